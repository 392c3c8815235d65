"""Archives are extracted safely or refused, leaving nothing behind."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from aicommons.core.errors import Invalid
from aicommons.data.archives import ArchiveLimits, check, extract


def _zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _tar(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def test_a_good_zip_extracts(tmp_path):
    source = _zip(tmp_path / "ok.zip", {"cats/a.txt": b"meow", "dogs/b.txt": b"woof"})
    out = extract(source, tmp_path / "out")
    assert (out / "cats/a.txt").read_bytes() == b"meow"
    assert (out / "dogs/b.txt").read_bytes() == b"woof"


@pytest.mark.parametrize(
    ("name", "message"),
    [("/etc/passwd", "absolute path"), ("../escape.txt", "'..'"), ("a/../../escape.txt", "'..'")],
)
def test_paths_leaving_the_archive_are_refused(tmp_path, name, message):
    source = _zip(tmp_path / "evil.zip", {"fine.txt": b"x", name: b"y"})
    with pytest.raises(Invalid, match=message):
        extract(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_links_in_a_tar_are_refused(tmp_path):
    link = tarfile.TarInfo("data/passwd")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    source = _tar(tmp_path / "links.tar.gz", [(link, None)])
    with pytest.raises(Invalid, match="is a link"):
        extract(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path):
    source = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (64 << 20)})  # 64 MiB of zeros packs to ~64 KiB
    assert source.stat().st_size < 1 << 20
    with pytest.raises(Invalid, match="zip bomb"):
        check(source)


def test_total_size_and_entry_count_limits(tmp_path):
    source = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" * 100 for i in range(20)})
    with pytest.raises(Invalid, match="entries"):
        extract(source, tmp_path / "a", ArchiveLimits(max_entries=10))
    with pytest.raises(Invalid, match="more than 1,000 bytes"):
        extract(source, tmp_path / "b", ArchiveLimits(max_bytes=1000))


def test_something_else_is_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip at all")
    with pytest.raises(Invalid, match="not a zip or tar"):
        extract(tmp_path / "x.zip", tmp_path / "out")
