"""AWS at the bottom layer: clients with bounded timeouts, and the secret reader."""
