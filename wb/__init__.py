"""The UFFDIO_MOVE workbench: tree, build, guest and results, each small."""
