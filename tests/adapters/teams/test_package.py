"""The Teams app package: three files at the root of the zip, the manifest filled and within
Teams' rules, icons of the sizes Teams requires, and clear errors for bad settings."""

from __future__ import annotations

import copy
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.package import (
    build_package,
    check_icons,
    check_manifest,
    load_template,
    render_manifest,
)

APP_ID = "8d6c1f3e-2b4a-4c5d-9e8f-0a1b2c3d4e5f"
BASE_URL = "https://ambition.example.org"

Pixel = tuple[int, int, int, int]


def _build(tmp_path: Path, app_id: str = APP_ID, base_url: str = BASE_URL) -> zipfile.ZipFile:
    return zipfile.ZipFile(build_package(app_id, base_url, tmp_path / "ambition-teams.zip"))


def _manifest(package: zipfile.ZipFile) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(package.read("manifest.json"))
    return manifest


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always follows the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _png_rgba(data: bytes) -> list[list[Pixel]]:
    """The pixels of an 8-bit RGBA, non-interlaced PNG (what an outline icon must be: it
    needs an alpha channel), undoing the five PNG row filters."""
    position, chunks = 8, b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 6, 0), "expected 8-bit RGBA, not interlaced"
        elif kind == b"IDAT":
            chunks += body
        position += 12 + length
    raw, stride, bpp = zlib.decompress(chunks), width * 4, 4
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up = previous[x]
            up_left = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - up_left
                nearest = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
                              (abs(guess - up_left), 2, up_left))[2]
                line[x] = (line[x] + nearest) & 0xFF
        rows.append(line)
        previous = line
    return [[(row[x], row[x + 1], row[x + 2], row[x + 3]) for x in range(0, stride, 4)]
            for row in rows]


def test_the_zip_holds_exactly_the_manifest_and_two_icons_at_its_root(tmp_path: Path) -> None:
    package = _build(tmp_path)

    assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
    assert package.testzip() is None


def test_the_manifest_is_filled_with_the_app_id_and_the_public_host(tmp_path: Path) -> None:
    raw = _build(tmp_path).read("manifest.json").decode("utf-8")
    manifest = json.loads(raw)

    assert "{{" not in raw and "}}" not in raw
    assert manifest["id"] == APP_ID
    assert [bot["botId"] for bot in manifest["bots"]] == [APP_ID]
    assert manifest["validDomains"] == ["ambition.example.org"]
    assert manifest["developer"]["privacyUrl"] == "https://ambition.example.org/privacy"
    schema = f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json"
    assert manifest["$schema"].endswith(schema)
    bot = manifest["bots"][0]
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert bot["supportsFiles"] is True and bot["isNotificationOnly"] is False
    for command_list in bot["commandLists"]:
        titles = [command["title"] for command in command_list["commands"]]
        assert titles == ["new", "group", "start", "next", "extend", "status", "plan", "help"]


def test_the_built_manifest_passes_every_offline_check(tmp_path: Path) -> None:
    package = _build(tmp_path)

    assert check_manifest(_manifest(package), package.namelist()) == []
    assert check_icons({name: package.read(name) for name in ("color.png", "outline.png")}) == []


def test_the_template_alone_is_reported_for_its_placeholders() -> None:
    problems = check_manifest(load_template())

    assert any("id: placeholder left unfilled" in problem for problem in problems)
    assert any(problem.startswith("validDomains[0]: placeholder") for problem in problems)


def test_the_icons_have_the_sizes_teams_requires(tmp_path: Path) -> None:
    package = _build(tmp_path)

    assert _png_size(package.read("color.png")) == (192, 192)
    assert _png_size(package.read("outline.png")) == (32, 32)


def test_the_outline_icon_is_white_on_transparent(tmp_path: Path) -> None:
    # Teams refuses an outline icon with any colour in it; only white and transparency.
    pixels = [pixel for row in _png_rgba(_build(tmp_path).read("outline.png")) for pixel in row]

    assert len(pixels) == 32 * 32
    assert [pixel for pixel in pixels if pixel[3] and pixel[:3] != (255, 255, 255)] == []
    assert any(pixel[3] == 0 for pixel in pixels), "there must be a transparent background"
    assert any(pixel[3] == 255 for pixel in pixels), "there must be a solid white mark"


def test_the_colour_icon_sits_on_a_solid_square(tmp_path: Path) -> None:
    pixels = _png_rgba(_build(tmp_path).read("color.png"))

    corners = {pixels[0][0], pixels[0][-1], pixels[-1][0], pixels[-1][-1]}
    assert len(corners) == 1 and corners.pop()[3] == 255
    assert all(pixel[3] == 255 for row in pixels for pixel in row)


def test_a_base_url_with_a_port_and_a_path_gives_host_and_links(tmp_path: Path) -> None:
    manifest = _manifest(_build(tmp_path, base_url="https://Bots.Example.org:8443/ambition/"))

    assert manifest["validDomains"] == ["bots.example.org:8443"]
    assert manifest["developer"]["termsOfUseUrl"] == "https://bots.example.org:8443/ambition/terms"


def test_the_same_settings_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_package(APP_ID, BASE_URL, tmp_path / "a.zip", version="1.2.3")
    second = build_package(APP_ID, BASE_URL, tmp_path / "b.zip", version="1.2.3")

    assert first.read_bytes() == second.read_bytes()
    assert _manifest(zipfile.ZipFile(first))["version"] == "1.2.3"


@pytest.mark.parametrize(("app_id", "base_url", "version", "message"), [
    ("ambition-bot", BASE_URL, "1.0.0", "MICROSOFT_APP_ID 'ambition-bot' is not a GUID"),
    (APP_ID + "0", BASE_URL, "1.0.0", "is not a GUID"),
    (APP_ID, "http://ambition.example.org", "1.0.0", "must start with https://"),
    (APP_ID, "ambition.example.org", "1.0.0", "must start with https://"),
    (APP_ID, "https://", "1.0.0", "must name a host"),
    (APP_ID, "https://ambition example.org", "1.0.0", "does not name a valid host"),
    (APP_ID, "https://ambition.example.org/?x=1", "1.0.0", "must not contain a query"),
    (APP_ID, "https://ambition.example.org:99999", "1.0.0", "is not a URL"),
    (APP_ID, BASE_URL, "1.0", "must be MAJOR.MINOR.PATCH"),
])
def test_bad_settings_are_refused_clearly_and_write_nothing(
        tmp_path: Path, app_id: str, base_url: str, version: str, message: str) -> None:
    out = tmp_path / "out" / "ambition-teams.zip"

    with pytest.raises(ValueError, match=message):
        build_package(app_id, base_url, out, version=version)

    assert list(tmp_path.rglob("*")) == []


def test_a_refused_build_leaves_an_earlier_package_alone(tmp_path: Path) -> None:
    out = build_package(APP_ID, BASE_URL, tmp_path / "ambition-teams.zip")
    before = out.read_bytes()

    with pytest.raises(ValueError):
        build_package(APP_ID, "http://ambition.example.org", out)

    assert out.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["ambition-teams.zip"]


def _set(manifest: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = manifest
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


@pytest.mark.parametrize(("path", "value", "problem"), [
    ("bots.0.botId", "11111111-2222-3333-4444-555555555555", "bots[0].botId: "),
    ("id", "not-a-guid", "id: 'not-a-guid' is not a GUID"),
    ("version", "1.0", "version: '1.0' is not MAJOR.MINOR.PATCH"),
    ("name.short", "A" * 31, "name.short: 31 characters, at most 30"),
    ("name.full", "A" * 101, "name.full: 101 characters, at most 100"),
    ("description.short", "A" * 81, "description.short: 81 characters, at most 80"),
    ("description.full", "A" * 4001, "description.full: 4001 characters, at most 4000"),
    ("developer.name", "A" * 33, "developer.name: 33 characters, at most 32"),
    ("developer.privacyUrl", "http://ambition.example.org/privacy", "must be an https:// URL"),
    ("accentColor", "teal", "accentColor: 'teal'"),
    ("icons.outline", "outline-32.png", "icons.outline: 'outline-32.png' is not in the package"),
    ("icons.color", "../color.png", "must be a path inside the package"),
    ("validDomains.0", "https://ambition.example.org", "without https://"),
    ("validDomains.0", "ambition.example.org/api", "without a path"),
    ("bots.0.scopes", ["team", "meetings"], "'meetings' is not one of"),
    ("bots.0.commandLists.0.commands.0.title", "A" * 33, "title: 33 characters, at most 32"),
    ("bots.0.commandLists.1.scopes", ["team"], "'team' already has a command list"),
    ("permissions", ["identity", "everything"], "'everything' is not one of"),
    ("manifestVersion", "1.17", "is not the schema of manifestVersion 1.17"),
])
def test_check_manifest_names_the_field_teams_would_refuse(
        path: str, value: Any, problem: str) -> None:
    manifest = copy.deepcopy(render_manifest(APP_ID, BASE_URL, "1.0.0"))
    _set(manifest, path, value)

    problems = check_manifest(manifest)

    assert any(problem in found for found in problems), problems


def test_check_icons_refuses_a_wrongly_sized_icon(tmp_path: Path) -> None:
    package = _build(tmp_path)

    problems = check_icons({"color.png": package.read("outline.png"),
                            "outline.png": package.read("outline.png")})

    assert problems == ["color.png: 32×32 pixels, Teams requires 192×192"]
