"""Loads pipeline files with the azure-ai-ml package, as `az ml job create` would before submitting.

Usage: python3 azure_load.py FILE...
Prints one line per file, "ok FILE" or "error FILE: MESSAGE", and exits 0 when every file loaded.
The compatibility tests run it on every file Conduit accepts (and on those it refuses only because
they need a cloud service), so Conduit's format and Azure's cannot drift apart silently.
"""
import sys

from azure.ai.ml import load_job


def main(paths):
    failures = 0
    for path in paths:
        try:
            load_job(source=path)
        except Exception as error:  # noqa: BLE001 - every failure is reported, whatever its type
            failures += 1
            message = " ".join(str(error).split())
            print(f"error {path}: {message[:2000]}")
        else:
            print(f"ok {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
