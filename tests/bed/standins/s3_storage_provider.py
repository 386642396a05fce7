# TEST-ONLY STAND-IN for `s3_storage_provider` (synapse-s3-storage-provider).
#
# Part of github.com/synapse-charm/synapse-k8s-go, tests/bed. No Debian suite
# packages synapse-s3-storage-provider and the test machines cannot reach
# PyPI, so tests/bed installs this module into the test image ONLY when
# `import s3_storage_provider` fails there. It keeps the upstream module path,
# class name and config keys, so the charm's rendered media_storage_providers
# block is exercised unchanged. Production images must ship the real module.
#
# Config keys: bucket, prefix, region_name, endpoint_url, access_key_id,
# secret_access_key. Objects are stored under <prefix><path> (path-style
# addressing), e.g. local_content/ab/cd/efgh...

import io
import os

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from synapse.logging.context import defer_to_thread
from synapse.media.media_storage import FileResponder
from synapse.media.storage_provider import StorageProvider


def _boto_config():
    try:
        # boto3 >= 1.36 adds streaming checksums by default; keep requests
        # plain so that simple S3 servers accept them.
        return Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    except TypeError:
        return Config(s3={"addressing_style": "path"})


class S3StorageProviderBackend(StorageProvider):
    """Stores media files in an S3 bucket and fetches them back."""

    def __init__(self, hs, config):
        self.hs = hs
        self.cache_directory = hs.config.media.media_store_path
        self.bucket = config["bucket"]
        self.prefix = config.get("prefix") or ""
        self.client = boto3.session.Session().client(
            "s3",
            region_name=config.get("region_name"),
            endpoint_url=config.get("endpoint_url"),
            aws_access_key_id=config.get("access_key_id"),
            aws_secret_access_key=config.get("secret_access_key"),
            config=_boto_config(),
        )

    @staticmethod
    def parse_config(config):
        return config

    def __str__(self):
        return "S3StorageProviderBackend[%s]" % (self.bucket,)

    async def store_file(self, path, file_info):
        local = os.path.join(self.cache_directory, path)

        def upload():
            with open(local, "rb") as f:
                self.client.put_object(Bucket=self.bucket, Key=self.prefix + path, Body=f)

        await defer_to_thread(self.hs.get_reactor(), upload)

    async def fetch(self, path, file_info):
        def download():
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=self.prefix + path)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return None
                raise
            return io.BytesIO(obj["Body"].read())

        body = await defer_to_thread(self.hs.get_reactor(), download)
        if body is None:
            return None
        return FileResponder(self.hs, body)
