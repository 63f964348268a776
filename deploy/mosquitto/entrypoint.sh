#!/bin/sh
# Entrypoint of the mosquitto service in docker-compose.yml (run with the image's /bin/sh).
# A Mosquitto password file cannot refer to environment variables, so it is written here,
# at every start, from MQTT_USERNAME and MQTT_PASSWORD (set from .env): a changed password
# takes effect on the next `docker compose up`. Then the image's own entrypoint runs,
# which hands /mosquitto to the mosquitto user, and starts the broker (the command).
set -eu

: "${MQTT_USERNAME:?MQTT_USERNAME is not set: copy .env.example to .env and set it}"
: "${MQTT_PASSWORD:?MQTT_PASSWORD is not set: copy .env.example to .env and set it}"

password_file=/mosquitto/config/passwd
umask 077
rm -f "$password_file"
mosquitto_passwd -b -c "$password_file" "$MQTT_USERNAME" "$MQTT_PASSWORD"
chown mosquitto:mosquitto "$password_file"

exec /docker-entrypoint.sh "$@"
