"""The Teams app package: a zip with manifest.json, color.png and outline.png at its root.

That zip is what Teams takes under "Apps → Manage your apps → Upload an app" and what an
admin uploads in the Teams admin centre. The manifest is `manifest.json` next to this module,
a template whose placeholders are filled here; the icons are in `icons/`.

Teams checks a package only when someone uploads it, far from this code and with terse
messages. `check_manifest` repeats the offline rules Teams enforces, so a bad package is
refused when it is built, with a message that says which field is wrong.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST = "manifest.json"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
# Teams reads these names at the root of the zip; nothing else goes in.
PACKAGE_FILES = (MANIFEST, COLOR_ICON, OUTLINE_ICON)
ICON_SIZES = {COLOR_ICON: 192, OUTLINE_ICON: 32}

APP_ID = "{{MICROSOFT_APP_ID}}"
VERSION = "{{VERSION}}"
PUBLIC_BASE_URL = "{{PUBLIC_BASE_URL}}"
PUBLIC_HOST = "{{PUBLIC_HOST}}"

# The patterns of the manifest schema (definitions guid, semver, hexColor).
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

BOT_SCOPES = frozenset({"team", "personal", "groupChat", "copilot"})
PERMISSIONS = frozenset({"identity", "messageTeamMembers"})
# Limits of the schema (v1.30) and of Teams' app validation.
SHORT_NAME, FULL_NAME = 30, 100
SHORT_DESCRIPTION, FULL_DESCRIPTION = 80, 4000
DEVELOPER_NAME, URL = 32, 2048
MAX_BOTS, MAX_COMMAND_LISTS, MAX_DOMAINS = 1, 3, 100
# v1.24 raised these to 12 commands, 128-character titles and 4000-character descriptions;
# we keep to the older limits so the command menu reads well in every client, old or new.
MAX_COMMANDS, COMMAND_TITLE, COMMAND_DESCRIPTION = 10, 32, 128

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A fixed time inside the zip, so the same inputs give the same bytes (zip has no time zone
# and cannot store dates before 1980).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _default_version() -> str:
    """The project's version, so a new release is a new Teams app version as well."""
    try:
        return metadata.version("ambition-workshop-bot")
    except metadata.PackageNotFoundError:
        return "1.0.0"


DEFAULT_VERSION = _default_version()


def build_package(app_id: str, public_base_url: str, out: Path,
                  version: str = DEFAULT_VERSION) -> Path:
    """Write the Teams app package for this bot to `out` (a .zip) and return its path.

    `app_id` is the bot's Microsoft App ID (MICROSOFT_APP_ID), `public_base_url` the https
    address this server is reached at (PUBLIC_BASE_URL). A bad value, or a manifest Teams
    would refuse, raises ValueError and writes nothing; an earlier file at `out` is then
    left as it was.
    """
    manifest = render_manifest(app_id, public_base_url, version)
    icons = {name: _read_resource("icons", name) for name in (COLOR_ICON, OUTLINE_ICON)}
    problems = check_manifest(manifest) + check_icons(icons)
    if problems:
        raise ValueError("The Teams app package would be refused:\n- " + "\n- ".join(problems))
    content = {MANIFEST: json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n",
               **icons}
    _write_atomically(Path(out), _zip(content))
    return Path(out)


def render_manifest(app_id: str, public_base_url: str,
                    version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """The manifest template with the placeholders filled, after checking the values."""
    _check_app_id(app_id)
    _check_version(version)
    base_url, host = split_public_base_url(public_base_url)
    values = {APP_ID: app_id, VERSION: version, PUBLIC_BASE_URL: base_url, PUBLIC_HOST: host}
    filled: dict[str, Any] = _fill(load_template(), values)
    return filled


def load_template() -> dict[str, Any]:
    """The manifest template, placeholders and all."""
    template: dict[str, Any] = json.loads(_read_resource(MANIFEST).decode("utf-8"))
    return template


def split_public_base_url(public_base_url: str) -> tuple[str, str]:
    """(the base URL without a trailing slash, the host for validDomains).

    Teams reaches bots and opens pages over https only, and validDomains takes a bare host
    (with a port only when it is not 443), never a scheme or path.
    """
    where = f"PUBLIC_BASE_URL {public_base_url!r}"
    try:
        parts = urlsplit(public_base_url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{where} is not a URL ({error}).") from None
    if parts.scheme.lower() != "https":
        raise ValueError(f"{where} must start with https:// – Teams only talks to bots over "
                         "HTTPS – e.g. https://ambition.example.org.")
    if not parts.hostname:
        raise ValueError(f"{where} must name a host, e.g. https://ambition.example.org.")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{where} must not contain a user name or password.")
    if parts.query or parts.fragment:
        raise ValueError(f"{where} must not contain a query (?…) or fragment (#…).")
    host = _ascii_host(parts.hostname, where)
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"https://{netloc}{parts.path.rstrip('/')}", netloc


def check_manifest(manifest: Mapping[str, Any],
                   package_files: Collection[str] = PACKAGE_FILES) -> list[str]:
    """Problems Teams would refuse the manifest for, found offline; empty when there are none.

    `package_files` are the names at the root of the zip, which the icons must be among.
    """
    checks: list[Callable[[Mapping[str, Any]], Iterator[str]]] = [
        _unfilled_placeholders, _identity, _names, _developer, _accent_color,
        lambda m: _icons(m, package_files), _bots, _permissions, _valid_domains,
    ]
    return [problem for check in checks for problem in check(manifest)]


def check_icons(icons: Mapping[str, bytes]) -> list[str]:
    """Problems with the icon files: each must be a PNG of the size Teams requires."""
    problems = []
    for name, side in ICON_SIZES.items():
        data = icons.get(name)
        if data is None:
            problems.append(f"{name}: missing")
        elif not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
            problems.append(f"{name}: not a PNG file")
        elif (size := struct.unpack(">II", data[16:24])) != (side, side):
            problems.append(f"{name}: {size[0]}×{size[1]} pixels, Teams requires {side}×{side}")
    return problems


# --- building -----------------------------------------------------------------------------

def _read_resource(*parts: str) -> bytes:
    # importlib.resources, so this also works from an installed wheel.
    resource = resources.files(__package__ or "adapters.teams")
    for part in parts:
        resource = resource.joinpath(part)
    return resource.read_bytes()


def _check_app_id(app_id: str) -> None:
    if not GUID.fullmatch(app_id):
        raise ValueError(f"MICROSOFT_APP_ID {app_id!r} is not a GUID: use the bot's Microsoft App "
                         "ID from its Azure Bot registration, e.g. "
                         "00000000-0000-0000-0000-000000000000.")


def _check_version(version: str) -> None:
    if not SEMVER.fullmatch(version):
        raise ValueError(f"The app version {version!r} must be MAJOR.MINOR.PATCH, e.g. 1.0.0: "
                         "Teams accepts nothing else.")


def _ascii_host(hostname: str, where: str) -> str:
    """The host in lower-case ASCII (an international name in its xn-- form)."""
    try:
        host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        host = ""
    if not host or not all(HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise ValueError(f"{where} does not name a valid host, e.g. https://ambition.example.org.")
    return host


def _fill(node: Any, values: Mapping[str, str]) -> Any:
    """The template with every placeholder replaced, inside strings only.

    Filling the parsed JSON rather than its text means no value can break the JSON syntax.
    """
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, str):
        for placeholder, value in values.items():
            node = node.replace(placeholder, value)
    return node


def _zip(content: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in content.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename, so a crash never leaves half a zip behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- the checks ---------------------------------------------------------------------------

def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON path, value) for every value in the manifest."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")
    else:
        yield path, node


def _get(manifest: Mapping[str, Any], *keys: str) -> Any:
    """manifest[key][key]…, or None where a level is missing or not an object."""
    node: Any = manifest
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: Any, path: str, limit: int, required: bool = True) -> Iterator[str]:
    if value is None:
        if required:
            yield f"{path}: missing"
    elif not isinstance(value, str) or not value.strip():
        yield f"{path}: must be a non-empty string"
    elif len(value) > limit:
        yield f"{path}: {len(value)} characters, at most {limit} allowed"


def _https_url(value: Any, path: str) -> Iterator[str]:
    yield from _text(value, path, URL)
    if isinstance(value, str) and value and not value.lower().startswith("https://"):
        yield f"{path}: {value!r} must be an https:// URL"


def _unfilled_placeholders(manifest: Mapping[str, Any]) -> Iterator[str]:
    for path, value in _walk(manifest):
        if isinstance(value, str) and ("{{" in value or "}}" in value):
            yield f"{path}: placeholder left unfilled in {value!r}"


def _identity(manifest: Mapping[str, Any]) -> Iterator[str]:
    app_id, version = manifest.get("id"), manifest.get("version")
    manifest_version, schema = manifest.get("manifestVersion"), manifest.get("$schema")
    if not isinstance(app_id, str) or not GUID.fullmatch(app_id):
        yield f"id: {app_id!r} is not a GUID (the bot's Microsoft App ID)"
    if not isinstance(version, str) or not SEMVER.fullmatch(version):
        yield f"version: {version!r} is not MAJOR.MINOR.PATCH"
    if not isinstance(manifest_version, str) or not manifest_version:
        yield "manifestVersion: missing"
    elif isinstance(schema, str) and not schema.endswith(
            f"/v{manifest_version}/MicrosoftTeams.schema.json"):
        # Teams validates against the version named in manifestVersion; a $schema for
        # another version means the editor checked something else.
        yield f"$schema: {schema!r} is not the schema of manifestVersion {manifest_version}"


def _names(manifest: Mapping[str, Any]) -> Iterator[str]:
    yield from _text(_get(manifest, "name", "short"), "name.short", SHORT_NAME)
    yield from _text(_get(manifest, "name", "full"), "name.full", FULL_NAME, required=False)
    short = _get(manifest, "description", "short")
    full = _get(manifest, "description", "full")
    yield from _text(short, "description.short", SHORT_DESCRIPTION)
    yield from _text(full, "description.full", FULL_DESCRIPTION)
    # App validation refuses a full description that only repeats the short one.
    if isinstance(short, str) and isinstance(full, str) and short.strip() and short.strip() in full:
        yield "description.full: must not repeat description.short"


def _developer(manifest: Mapping[str, Any]) -> Iterator[str]:
    yield from _text(_get(manifest, "developer", "name"), "developer.name", DEVELOPER_NAME)
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        yield from _https_url(_get(manifest, "developer", key), f"developer.{key}")


def _accent_color(manifest: Mapping[str, Any]) -> Iterator[str]:
    color = manifest.get("accentColor")
    if not isinstance(color, str) or not HEX_COLOR.fullmatch(color):
        yield f"accentColor: {color!r} is not a colour like #1F4E5F"


def _icons(manifest: Mapping[str, Any], package_files: Collection[str]) -> Iterator[str]:
    for key in ("color", "outline"):
        path = f"icons.{key}"
        name = _get(manifest, "icons", key)
        if not isinstance(name, str) or not name:
            yield f"{path}: missing"
        elif name.startswith(("/", "\\")) or ".." in name.split("/"):
            yield f"{path}: {name!r} must be a path inside the package"
        elif name not in package_files:
            yield f"{path}: {name!r} is not in the package ({', '.join(sorted(package_files))})"


def _bots(manifest: Mapping[str, Any]) -> Iterator[str]:
    bots = manifest.get("bots", [])
    if not isinstance(bots, list):
        yield "bots: must be a list"
        return
    if len(bots) > MAX_BOTS:
        yield f"bots: {len(bots)} bots, Teams allows {MAX_BOTS}"
    for index, bot in enumerate(bots):
        yield from _bot(manifest.get("id"), bot, f"bots[{index}]")


def _bot(app_id: Any, bot: Any, path: str) -> Iterator[str]:
    if not isinstance(bot, Mapping):
        yield f"{path}: must be an object"
        return
    bot_id = bot.get("botId")
    if not isinstance(bot_id, str) or not GUID.fullmatch(bot_id):
        yield f"{path}.botId: {bot_id!r} is not a GUID"
    elif bot_id != app_id:
        # One Microsoft App ID for the app and its bot: that is how the adapter's
        # MICROSOFT_APP_ID authenticates the messages Teams sends to this bot.
        yield f"{path}.botId: {bot_id!r} differs from the app id {app_id!r}"
    scopes = bot.get("scopes")
    yield from _scopes(scopes, f"{path}.scopes", BOT_SCOPES)
    for flag in ("supportsFiles", "isNotificationOnly"):
        if flag in bot and not isinstance(bot[flag], bool):
            yield f"{path}.{flag}: must be true or false"
    lists = bot.get("commandLists", [])
    if not isinstance(lists, list):
        yield f"{path}.commandLists: must be a list"
        return
    if len(lists) > MAX_COMMAND_LISTS:
        yield f"{path}.commandLists: {len(lists)} lists, at most {MAX_COMMAND_LISTS} allowed"
    bot_scopes = frozenset(scopes) if isinstance(scopes, list) else frozenset()
    seen: set[str] = set()
    for index, command_list in enumerate(lists):
        list_path = f"{path}.commandLists[{index}]"
        yield from _command_list(command_list, list_path, bot_scopes, seen)


def _command_list(command_list: Any, path: str, bot_scopes: frozenset[str],
                  seen: set[str]) -> Iterator[str]:
    if not isinstance(command_list, Mapping):
        yield f"{path}: must be an object"
        return
    scopes = command_list.get("scopes")
    yield from _scopes(scopes, f"{path}.scopes", bot_scopes)
    for scope in scopes if isinstance(scopes, list) else []:
        # Teams shows one command menu per scope; a second list for a scope is ambiguous.
        if scope in seen:
            yield f"{path}.scopes: {scope!r} already has a command list"
        seen.add(scope)
    commands = command_list.get("commands")
    if not isinstance(commands, list) or not commands:
        yield f"{path}.commands: must be a non-empty list"
        return
    if len(commands) > MAX_COMMANDS:
        yield f"{path}.commands: {len(commands)} commands, at most {MAX_COMMANDS}"
    titles: set[str] = set()
    for index, command in enumerate(commands):
        title = _get(command, "title")
        yield from _text(title, f"{path}.commands[{index}].title", COMMAND_TITLE)
        yield from _text(_get(command, "description"), f"{path}.commands[{index}].description",
                         COMMAND_DESCRIPTION)
        if isinstance(title, str) and title.lower() in titles:
            yield f"{path}.commands[{index}].title: {title!r} appears twice"
        titles.add(title.lower() if isinstance(title, str) else "")


def _scopes(scopes: Any, path: str, allowed: frozenset[str]) -> Iterator[str]:
    if not isinstance(scopes, list) or not scopes:
        yield f"{path}: must be a non-empty list"
        return
    if len(set(map(str, scopes))) != len(scopes):
        yield f"{path}: a scope appears twice"
    for scope in scopes:
        if scope not in allowed:
            yield f"{path}: {scope!r} is not one of {', '.join(sorted(allowed))}"


def _permissions(manifest: Mapping[str, Any]) -> Iterator[str]:
    permissions = manifest.get("permissions", [])
    if not isinstance(permissions, list):
        yield "permissions: must be a list"
        return
    for permission in permissions:
        if permission not in PERMISSIONS:
            yield f"permissions: {permission!r} is not one of {', '.join(sorted(PERMISSIONS))}"


def _valid_domains(manifest: Mapping[str, Any]) -> Iterator[str]:
    domains = manifest.get("validDomains", [])
    if not isinstance(domains, list):
        yield "validDomains: must be a list"
        return
    if len(domains) > MAX_DOMAINS:
        yield f"validDomains: {len(domains)} domains, at most {MAX_DOMAINS}"
    if len(set(map(str, domains))) != len(domains):
        yield "validDomains: a domain appears twice"
    for index, domain in enumerate(domains):
        path = f"validDomains[{index}]"
        if not isinstance(domain, str) or not domain or len(domain) > URL:
            yield f"{path}: must be a host name of at most {URL} characters"
        elif "://" in domain:
            yield f"{path}: {domain!r} must be a bare host, without https://"
        elif "/" in domain or any(character.isspace() for character in domain):
            yield f"{path}: {domain!r} must be a bare host, without a path or spaces"
