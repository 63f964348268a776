"""Settings: defaults < config file < environment < flags; bad values named; secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgtwin.ingest.history.questdb import QuestDB
from kgtwin.server.settings import Settings, SettingsError

CONFIG = """
[neo4j]
uri = "bolt://file.example:7687"
password = "file-secret"

[server]
host = "0.0.0.0"
port = 9000
anonymous_read = true

[limits]
max_query_depth = 7
max_complexity = 1234
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kgtwin.toml"
    path.write_text(CONFIG)
    return path


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.anonymous_read is False
    assert settings.max_query_depth == 10
    assert settings.max_page_size == 100
    assert settings.neo4j_uri is None
    assert settings.ontology  # the bundled ontology files


def test_flags_override_environment_which_overrides_the_file(config: Path) -> None:
    from_file = Settings.from_env({}, config=config)
    assert from_file.neo4j_uri == "bolt://file.example:7687"
    assert (from_file.host, from_file.port, from_file.anonymous_read) == ("0.0.0.0", 9000, True)
    assert (from_file.max_query_depth, from_file.max_complexity) == (7, 1234)
    env = {"KGTWIN_CONFIG": str(config), "KGTWIN_PORT": "9100", "KGTWIN_ANONYMOUS_READ": "no"}
    from_env = Settings.from_env(env)
    assert (from_env.host, from_env.port, from_env.anonymous_read) == ("0.0.0.0", 9100, False)
    flagged = from_env.override(port=9200, host=None)
    assert (flagged.host, flagged.port) == ("0.0.0.0", 9200)


def test_secrets_never_show(config: Path) -> None:
    settings = Settings.from_env({"NEO4J_PASSWORD": "env-secret"}, config=config)
    assert "secret" not in repr(settings)
    assert "secret" not in str(settings)
    assert settings.neo4j_connection()[2] == "env-secret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[server]\nprot = 1\n",
            "unknown key 'prot' in [server]; valid keys: anonymous_read, cors_origins, host",
        ),
        (
            "[srever]\n",
            "unknown section [srever]; valid sections: [history], [ingest], [limits], [local], "
            "[mqtt], [neo4j]",
        ),
        ("[server]\nport = 70000\n", "[server] port=70000 is not a port number (1-65535)"),
        ("[server]\nanonymous_read = 'maybe'\n", "is not a boolean: use true or false"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_is_refused_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"^config file ") as caught:
        Settings.from_env({}, config=path)
    assert message in str(caught.value)


def test_bad_environment_values_are_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^KGTWIN_MAX_PAGE_SIZE='lots' is not a page size"):
        Settings.from_env({"KGTWIN_MAX_PAGE_SIZE": "lots"})
    with pytest.raises(SettingsError, match=r"^KGTWIN_NEO4J_BOLT_PORT='0' is not a port number"):
        Settings.from_env({"KGTWIN_NEO4J_BOLT_PORT": "0"})
    with pytest.raises(SettingsError, match="cannot read it"):
        Settings.from_env({"KGTWIN_CONFIG": str(tmp_path / "missing.toml")})
    with pytest.raises(SettingsError, match=r"^--port=0 is not a port number"):
        Settings().override(port=0)


def test_cors_origins_are_named_origins() -> None:
    settings = Settings.from_env(
        {"KGTWIN_CORS_ORIGINS": "https://dash.example, http://[::1]:8080/"}
    )
    assert settings.cors_origins == ("https://dash.example", "http://[::1]:8080")
    assert Settings.from_env({}).cors_origins == ()
    for bad in ("*", "dash.example", "https://dash.example/path"):
        with pytest.raises(SettingsError, match="is not an origin"):
            Settings.from_env({"KGTWIN_CORS_ORIGINS": bad})


def test_the_ingestion_bounds_come_from_the_file_the_environment_and_flags(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kgtwin.toml"
    path.write_text(
        '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'
        "[ingest]\nreceive_maximum = 20\nmax_payload_bytes = 1000\nstall_after = 5\n"
    )
    settings = Settings.from_env({"KGTWIN_INGEST_MAX_QUEUED_BYTES": "2097152"}, config=path)
    settings = settings.override(receive_maximum="30")
    config = settings.ingest_config()
    assert (config.receive_maximum, config.max_payload_bytes) == (30, 1000)
    assert (config.max_queued_bytes, config.stall_after) == (2_097_152, 5.0)
    defaults = Settings(mqtt_url=settings.mqtt_url).ingest_config()
    assert (defaults.receive_maximum, defaults.max_payload_bytes) == (10_000, 262_144)
    assert (defaults.max_queued_bytes, defaults.stall_after) == (64 * 2**20, 60.0)


def test_ingestion_bounds_that_do_not_fit_together_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"^--receive-maximum=70000 is not a number"):
        Settings().override(receive_maximum=70_000)
    settings = Settings.from_env(
        {
            "KGTWIN_MQTT_URL": "mqtt://127.0.0.1:1883",
            "KGTWIN_INGEST_MAX_PAYLOAD_BYTES": "2000000",
            "KGTWIN_INGEST_MAX_QUEUED_BYTES": "1048576",
        }
    )
    with pytest.raises(SettingsError, match=r"max_queued_bytes .* must hold the largest message"):
        settings.ingest_config()


def test_history_uses_the_configured_questdb_else_the_local_one_else_none(tmp_path: Path) -> None:
    configured = Settings.from_env(
        {
            "QUESTDB_URL": "http://tsdb.example:9000/",
            "QUESTDB_PASSWORD": "p",
            "QUESTDB_PG_PORT": "5432",
        }
    )
    assert configured.questdb_connection() == QuestDB(
        "http://tsdb.example:9000", "admin", "p", 5432
    )
    assert Settings.from_env({"KGTWIN_HOME": str(tmp_path)}).questdb_connection() is None
    (tmp_path / "questdb").mkdir()
    (tmp_path / "questdb" / "password").write_text("secret\n", encoding="utf-8")
    local = Settings.from_env({"KGTWIN_HOME": str(tmp_path), "KGTWIN_QUESTDB_HTTP_PORT": "9100"})
    assert local.questdb_connection() == QuestDB("http://127.0.0.1:9100", "admin", "secret", 8812)
    off = Settings.from_env({"KGTWIN_HOME": str(tmp_path), "KGTWIN_HISTORY": "false"})
    assert off.questdb_connection() is None


@pytest.mark.parametrize(
    "url", ["tsdb:9000", "http://user:pw@tsdb:9000", "http://tsdb:9000/api", "ftp://tsdb"]
)
def test_a_questdb_url_is_a_bare_http_address(url: str) -> None:
    with pytest.raises(SettingsError, match=r"QUESTDB_URL=.* is not an HTTP address"):
        Settings.from_env({"QUESTDB_URL": url})


def test_the_share_group_comes_from_the_file_the_environment_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "kgtwin.toml"
    path.write_text(
        '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\nclient_id = "ingest-1"\nshare_group = "file"\n'
    )
    assert Settings.from_env({}, config=path).ingest_config().share_group == "file"
    settings = Settings.from_env({"KGTWIN_SHARE_GROUP": "env"}, config=path)
    assert settings.ingest_config().share_group == "env"
    config = settings.override(share_group="flag").ingest_config()
    assert (config.share_group, config.client_id) == ("flag", "ingest-1")
    assert Settings(mqtt_url=settings.mqtt_url).ingest_config().share_group is None
    assert Settings.from_env({"KGTWIN_SHARE_GROUP": ""}).share_group is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a/b", r"must not contain '/'"),
        ("dc1+", r"must not contain '\+'"),
        ("#", r"must not contain '#'"),
        ("two words", r"must not contain ' '"),
        ("x" * 65, r"must be 1 to 64 characters long, not 65"),
    ],
)
def test_a_share_group_mqtt_cannot_carry_is_refused_naming_the_variable(
    name: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^KGTWIN_SHARE_GROUP: share group .*{message}"):
        Settings.from_env({"KGTWIN_SHARE_GROUP": name})


def test_a_share_group_with_the_default_client_id_is_refused_saying_what_to_do() -> None:
    """Every worker of a group would take the same session: each connection would throw the
    other off, and the broker would count them as one member of the group."""
    settings = Settings.from_env(
        {"KGTWIN_MQTT_URL": "mqtt://127.0.0.1:1883", "KGTWIN_SHARE_GROUP": "dc1"}
    )
    with pytest.raises(SettingsError, match=r"needs a client id of its own.*--client-id"):
        settings.ingest_config()
    config = settings.override(mqtt_client_id="kgtwin-ingest-2").ingest_config()
    assert (config.share_group, config.client_id) == ("dc1", "kgtwin-ingest-2")
