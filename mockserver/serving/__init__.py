"""Processes and sockets, and the layers a request passes before the pipeline: the production
server (granian or gunicorn, TLS), turns on the CPU, request-size guards, replayed replies."""
