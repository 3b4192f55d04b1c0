"""Writing outputs atomically and byte-reproducibly, and reading JSON inputs."""
