#!/bin/sh
# Entry point of dockyard-test/ceph-rgw:reef: a single-node Ceph cluster in this container (one
# monitor, one OSD, no manager; cephx on, every address 127.0.0.1) and its RADOS Gateway serving
# S3 on port 7480 on all interfaces. Ready (the health check turns healthy) once the S3 user and
# its buckets exist; stays up until stopped. Logs of all three daemons go to the container's log.
#   RGW_ACCESS_KEY   S3 access key of the user (required)
#   RGW_SECRET_KEY   S3 secret key of the user (required, never printed)
#   RGW_BUCKET       bucket(s) made for the user before ready, separated by spaces (default: registry)
#   RGW_USER         the user's uid (default: dockyard)
#   CEPH_OSD_STORE   memstore (default: objects in RAM, a fresh cluster at every start) or bluestore
#                    (objects in a sparse file under /var/lib/ceph: mount a volume there to keep
#                    them across restarts and containers)
#   CEPH_OSD_SIZE_GB the OSD's capacity in GiB (default: 20; bluestore's file is sparse)
set -eu

log() { printf 'ceph-rgw: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

: "${RGW_USER:=dockyard}" "${RGW_BUCKET:=registry}" "${CEPH_OSD_STORE:=memstore}" "${CEPH_OSD_SIZE_GB:=20}"
[ -n "${RGW_ACCESS_KEY:-}" ] || die "RGW_ACCESS_KEY is empty: set the S3 user's access key"
[ -n "${RGW_SECRET_KEY:-}" ] || die "RGW_SECRET_KEY is empty: set the S3 user's secret key"
case "$CEPH_OSD_STORE" in
  memstore|bluestore) ;;
  *) die "CEPH_OSD_STORE=$CEPH_OSD_STORE: allowed are memstore and bluestore" ;;
esac
case "$CEPH_OSD_SIZE_GB" in
  ''|*[!0-9]*|0) die "CEPH_OSD_SIZE_GB=$CEPH_OSD_SIZE_GB: a whole number of GiB, at least 1" ;;
esac
for bucket in $RGW_BUCKET; do
  printf '%s\n' "$bucket" | grep -Eq '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' ||
    die "RGW_BUCKET: '$bucket' is not an S3 bucket name (3-63 of a-z 0-9 . -)"
done

STATE=/var/lib/ceph
MON_DIR=$STATE/mon/ceph-a
OSD_DIR=$STATE/osd/ceph-0
RGW_DIR=$STATE/radosgw/ceph-rgw
ADMIN_KEYRING=$STATE/client.admin.keyring
READY=/run/ceph-rgw/ready
SIZE=$((CEPH_OSD_SIZE_GB * 1024 * 1024 * 1024))
rm -f "$READY"
mkdir -p /run/ceph-rgw /var/run/ceph /etc/ceph

# memstore keeps nothing worth reusing: every start makes a new cluster. bluestore reuses one
# made before (same volume).
if [ "$CEPH_OSD_STORE" = memstore ] || [ ! -e "$STATE/cluster-made" ]; then
  rm -rf "${STATE:?}/mon" "$STATE/osd" "$STATE/radosgw" "$STATE/fsid" "$STATE/cluster-made" "$ADMIN_KEYRING"
  cat /proc/sys/kernel/random/uuid > "$STATE/fsid"
  FRESH=1
else
  FRESH=''
  log "reusing the cluster $(cat "$STATE/fsid") in $STATE (bluestore)"
fi
FSID=$(cat "$STATE/fsid")

cat > /etc/ceph/ceph.conf <<EOF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_data_avail_warn = 1
paxos_propose_interval = 0.1
paxos_min_wait = 0.01
log_to_file = false
log_to_stderr = true
err_to_stderr = true
mon_cluster_log_to_file = false
debug_mon = 0/5
debug_paxos = 0/5
debug_osd = 0/5
debug_bluestore = 0/5
debug_rocksdb = 0/5
osd_objectstore = $CEPH_OSD_STORE
memstore_device_bytes = $SIZE
bluestore_block_create = true
bluestore_block_size = $SIZE
osd_memory_target = 939524096

[client.admin]
keyring = $ADMIN_KEYRING

# debug_rgw stays at 1: one line per S3 request in the container's log.
[client.rgw]
rgw_frontends = beast port=7480
rgw_enable_usage_log = false
EOF

MON_PID='' OSD_PID='' RGW_PID=''
stop() {
  if [ "$CEPH_OSD_STORE" = memstore ]; then
    # Nothing to keep (a gracefully stopped memstore OSD would write all its objects to disk).
    kill -KILL $RGW_PID $OSD_PID $MON_PID 2>/dev/null || true
  else
    for pid in $RGW_PID $OSD_PID $MON_PID; do
      if kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
    done
  fi
  exit 0
}
trap stop TERM INT

# alive NAME PID: fail when a daemon that should run is gone.
alive() { kill -0 "$2" 2>/dev/null || die "$1 exited during start-up (see the log above)"; }

if [ -n "$FRESH" ]; then
  log "making a new cluster $FSID (one monitor, one $CEPH_OSD_STORE OSD of $CEPH_OSD_SIZE_GB GiB)"
  mkdir -p "$MON_DIR" "$OSD_DIR" "$RGW_DIR"
  MON_KEYRING=$(mktemp)
  {
    ceph-authtool --create-keyring "$MON_KEYRING" --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool --create-keyring "$ADMIN_KEYRING" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *'
    ceph-authtool --create-keyring "$OSD_DIR/keyring" --gen-key -n osd.0 \
      --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd'
    ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key -n client.rgw \
      --cap mon 'allow rw' --cap osd 'allow rwx'
    for keyring in "$ADMIN_KEYRING" "$OSD_DIR/keyring" "$RGW_DIR/keyring"; do
      ceph-authtool "$MON_KEYRING" --import-keyring "$keyring"
    done
    monmaptool --create --fsid "$FSID" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$STATE/monmap"
    ceph-mon --mkfs -i a --monmap "$STATE/monmap" --keyring "$MON_KEYRING"
  } >/dev/null
  rm -f "$MON_KEYRING"
fi

ceph-mon -f -i a &
MON_PID=$!
if [ -n "$FRESH" ]; then
  OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  OSD_ID=$(ceph --connect-timeout 60 osd new "$OSD_UUID") || die "ceph osd new failed"
  [ "$OSD_ID" = 0 ] || die "ceph osd new made osd.$OSD_ID, expected osd.0"
  ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" >/dev/null
  touch "$STATE/cluster-made"
fi
alive ceph-mon "$MON_PID"
ceph-osd -f -i 0 &
OSD_PID=$!
radosgw -f -n client.rgw &
RGW_PID=$!

log "waiting for the RADOS Gateway on 127.0.0.1:7480"
i=0
until curl -s -o /dev/null --max-time 2 http://127.0.0.1:7480/; do
  alive ceph-mon "$MON_PID"; alive ceph-osd "$OSD_PID"; alive radosgw "$RGW_PID"
  i=$((i + 1))
  [ "$i" -lt 300 ] || die "the RADOS Gateway did not answer on port 7480 within 5 minutes"
  sleep 0.5
done

if radosgw-admin user info --uid="$RGW_USER" >/dev/null 2>&1; then
  radosgw-admin key create --uid="$RGW_USER" --key-type=s3 \
    --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" >/dev/null
else
  radosgw-admin user create --uid="$RGW_USER" --display-name="$RGW_USER" \
    --access-key="$RGW_ACCESS_KEY" --secret-key="$RGW_SECRET_KEY" >/dev/null
fi
log "S3 user $RGW_USER with access key $RGW_ACCESS_KEY"

# s3 ARGS...: curl with AWS Signature V4 as the user.
s3() {
  curl -sS --max-time 30 --aws-sigv4 'aws:amz:us-east-1:s3' --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "$@"
}
for bucket in $RGW_BUCKET; do
  code=$(s3 -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:7480/$bucket") || code=000
  case "$code" in
    200|409) log "bucket $bucket ready" ;;
    *) die "creating bucket $bucket answered HTTP $code" ;;
  esac
done

touch "$READY"
log "ready: S3 on port 7480, bucket(s) $RGW_BUCKET"
while :; do
  wait "$RGW_PID" 2>/dev/null || true
  if ! kill -0 "$RGW_PID" 2>/dev/null; then
    rm -f "$READY"
    die "radosgw exited"
  fi
done
