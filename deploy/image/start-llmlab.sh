#!/bin/sh
# First start of a student's server: copy the course into their home (never over their own work), make
# their .env from the example, and the folders for the run log, caches and temp files. Then run the server.
set -e
COURSE="$HOME/llmlab"
SOURCE="${LLMLAB_SOURCE:-/opt/llmlab}"
mkdir -p "$COURSE/runs" "${XDG_CACHE_HOME:-$HOME/.cache}" "${TMPDIR:-$HOME/.cache/tmp}"
for folder in notebooks labs; do
  if [ ! -e "$COURSE/$folder" ]; then cp -R "$SOURCE/$folder" "$COURSE/$folder"; fi
done
if [ ! -e "$COURSE/.env" ]; then
  cp "$SOURCE/.env.example" "$COURSE/.env"
  chmod 600 "$COURSE/.env"
fi
exec "$@"
