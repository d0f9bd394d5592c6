#!/bin/sh
# Health check of dockyard-test/ceph-rgw:reef: healthy when the entry point has made the S3 user
# and buckets and a HEAD of the first bucket, signed (AWS Signature V4) with the user's keys from
# the container's environment, answers 200 from the RADOS Gateway.
[ -e /run/ceph-rgw/ready ] || exit 1
bucket=${RGW_BUCKET:-registry}
bucket=${bucket%% *}
exec curl -sS -f -o /dev/null -I --max-time 4 --aws-sigv4 'aws:amz:us-east-1:s3' \
  --user "$RGW_ACCESS_KEY:$RGW_SECRET_KEY" "http://127.0.0.1:7480/$bucket"
