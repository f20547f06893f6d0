"""Window presets (dcmlib.values.presets): the built-in CT windows, user presets files (TOML, Weasis's
presets.xml, broken ones), which images the CT presets fit, and ``--presets`` on the command line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import dcmlib
from dcmlib import InvalidArgumentError
from dcmlib.values.lut import VoiFunction
from dcmlib.values.presets import (
    PRESETS,
    Preset,
    UserPresets,
    applies_hu,
    default_presets_path,
    find_preset,
    get_preset,
    load_presets,
)
from dcmlib.viewer import controls
from dcmlib.viewer.labels import help_rows
from helpers import assert_within_one, make_ds, ramp, run_cli, write_ds

#: A user presets file in the documented form: a table per modality, in cycle order.
TOML = """\
# my presets
[CT]
"liver narrow" = { center = 60, width = 120 }
lung = { center = -500, width = 1400, function = "sigmoid" }

[cr]
chest = [2000, 3000]
bones = [2500, 1200, "linear-exact"]

[[MR]]
name = "T2 brain"
center = 300
width = 600
"""

#: Weasis's own format (weasis-dicom-codec config/presets.xml), with a LOG shape Weasis allows.
WEASIS = """<?xml version="1.0" encoding="UTF-8"?>
<presets>
  <!-- name, modality, window and level are mandatory tags. -->
  <preset name="Brain" modality="CT" window="110" level="35" key="51" />
  <preset name="Abdomen" modality="CT" window="320" level="50" key="52" />
  <preset name="Lung" modality="CT" window="1500" level="-500" shape="SIGMOID"/>
  <preset name="Soft" modality="MR" window="800" level="400"/>
  <preset name="Log" modality="CT" window="100" level="50" shape="LOG"/>
</presets>
"""


class TestBuiltIn:
    def test_api_kept(self):
        assert list(PRESETS)[:2] == ["lung", "bone"] and len(PRESETS) == 9
        assert get_preset("Soft_Tissue") == Preset("soft tissue", 40.0, 400.0)
        assert dcmlib.get_preset("lung").function is None
        with pytest.raises(InvalidArgumentError, match="unknown preset"):
            get_preset("nope")

    @pytest.mark.parametrize(
        "unit,fits", [("HU", True), ("hu", True), ("", False), ("US", False), ("RGB", False), ("BQML", False)]
    )
    def test_ct_presets_fit_hu_only(self, unit, fits):
        assert applies_hu(unit) is fits


class TestToml:
    def test_tables_in_order(self, tmp_path):
        f = tmp_path / "presets.toml"
        f.write_text(TOML)
        user = load_presets(f)
        assert set(user.by_modality) == {"CT", "CR", "MR"}  # modality keys upper case
        assert user.for_modality("CT") == (
            Preset("liver narrow", 60.0, 120.0),
            Preset("lung", -500.0, 1400.0, VoiFunction.SIGMOID),
        )
        assert user.for_modality("cr") == (
            Preset("chest", 2000.0, 3000.0),
            Preset("bones", 2500.0, 1200.0, VoiFunction.LINEAR_EXACT),
        )
        assert user.for_modality("MR") == (Preset("T2 brain", 300.0, 600.0),)
        assert user.for_modality("US") == () and len(user) == 5 and user.path == str(f)

    @pytest.mark.parametrize(
        "text,message",
        [
            ("[CT\nx = 1", "not valid TOML"),  # syntax: the parser's line
            ("[CT]\nlung = { center = -600 }", "width must be a number"),
            ("[CT]\nlung = { center = 'a', width = 1 }", "center must be a number"),
            ("[CT]\nlung = { center = -600, width = 0 }", "width must be >= 1"),
            ("[CT]\nlung = { center = -600, width = 0, function = 'sigmoid' }", "width must be > 0"),
            ("[CT]\nlung = { center = -600, width = 100, function = 'log' }", "unknown mode"),
            ("[CT]\nlung = { center = -600, width = 100, level = 3 }", "unknown key 'level'"),
            ("[CT]\nlung = { center = true, width = 100 }", "center must be a finite number"),
            ("[CT]\nlung = { center = nan, width = 100 }", "center must be a finite number"),
            ("[CT]\nlung = 'wide'", "must be { center = C, width = W }"),
            ("CT = 3", "must be a table of presets"),
            ("['C T']\nx = [1, 2]", "is not a modality"),
        ],
    )
    def test_broken(self, tmp_path, text, message):
        f = tmp_path / "presets.toml"
        f.write_text(text)
        with pytest.raises(InvalidArgumentError, match=message) as exc:
            load_presets(f)
        assert str(exc.value).startswith(f"{f}: ")  # one line naming the file

    def test_syntax_error_names_the_line(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[CT]\nlung = { center = -600, width = 1500 }\nbone = {\n")
        with pytest.raises(InvalidArgumentError, match="line 3"):
            load_presets(f)

    def test_missing_or_binary(self, tmp_path):
        with pytest.raises(InvalidArgumentError, match="cannot read presets file"):
            load_presets(tmp_path / "none.toml")
        f = tmp_path / "bin.toml"
        f.write_bytes(b"\xff\xfe\x00[CT]")
        with pytest.raises(InvalidArgumentError, match="not UTF-8"):
            load_presets(f)

    def test_default_path(self, monkeypatch, tmp_path):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        assert default_presets_path() == tmp_path / "dcmview" / "presets.toml"
        monkeypatch.delenv("XDG_CONFIG_HOME")
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_presets_path() == tmp_path / ".config" / "dcmview" / "presets.toml"


class TestWeasis:
    def test_read(self, tmp_path):
        f = tmp_path / "presets.xml"
        f.write_text(WEASIS)
        user = load_presets(f)
        # level is the center, window the width; SIGMOID is the VOI LUT Function; key is ignored
        assert user.for_modality("CT") == (
            Preset("Brain", 35.0, 110.0, VoiFunction.LINEAR),
            Preset("Abdomen", 50.0, 320.0, VoiFunction.LINEAR),
            Preset("Lung", -500.0, 1500.0, VoiFunction.SIGMOID),
        )
        assert user.for_modality("MR") == (Preset("Soft", 400.0, 800.0, VoiFunction.LINEAR),)
        assert user.notes == ("<preset> 5 'Log': shape LOG is not a DICOM VOI LUT Function; preset skipped",)

    def test_recognised_by_content(self, tmp_path):
        f = tmp_path / "weasis-presets"  # no extension: XML by its first character
        f.write_text(WEASIS)
        assert len(load_presets(f)) == 4

    @pytest.mark.parametrize(
        "text,message",
        [
            ("<presets><preset name='a' modality='CT' window='1'/></presets>", "has no 'level' attribute"),
            ("<presets><preset name='a' modality='CT' window='w' level='1'/></presets>", "width must be a number"),
            ("<presets><preset name='a'", "not valid XML"),
            ("<config><preset/></config>", "not a Weasis presets file"),
        ],
    )
    def test_broken(self, tmp_path, text, message):
        f = tmp_path / "presets.xml"
        f.write_text(text)
        with pytest.raises(InvalidArgumentError, match=message):
            load_presets(f)


class TestFind:
    def user(self):
        return UserPresets(
            {"CT": (Preset("lung", -500.0, 1400.0),), "CR": (Preset("chest", 2000.0, 3000.0),)}, "/x/presets.toml"
        )

    def test_users_first_for_the_modality(self):
        assert find_preset("Lung", "CT", self.user()) == Preset("lung", -500.0, 1400.0)
        assert find_preset("lung", "MR", self.user()) == Preset("lung", -500.0, 1400.0)  # any of yours
        assert find_preset("chest", "", self.user()).center == 2000.0
        assert find_preset("bone", "CT", self.user()) == PRESETS["bone"]  # built in
        assert find_preset("lung") == PRESETS["lung"]

    def test_unknown_lists_both(self):
        with pytest.raises(InvalidArgumentError, match=r"built in: lung.*presets.toml: lung, chest"):
            find_preset("spine", "CT", self.user())

    def test_a_preset_brings_its_function(self):
        img = dcmlib.load(make_ds(ramp(8, 8, 0, 4000, np.uint16), Modality="CR"))
        sel = img.resolve_voi(preset=Preset("chest", 2000.0, 3000.0, VoiFunction.SIGMOID))
        assert sel.window.function is VoiFunction.SIGMOID
        assert (
            img.resolve_voi(preset=Preset("chest", 2000.0, 3000.0, VoiFunction.SIGMOID), mode="linear").window.function
            is VoiFunction.LINEAR
        )  # --mode wins
        assert img.resolve_voi(preset="lung").window.function is VoiFunction.LINEAR


class TestViewerCycle:
    """The p / 1-9 cycle with user presets, on real images."""

    def test_cr_cycles_its_own_windows_then_yours(self):
        img = dcmlib.load(
            make_ds(ramp(32, 32, 100, 3000, np.uint16), Modality="CR", PhotometricInterpretation="MONOCHROME1")
        )
        st = controls.initial_state(img, user_presets=(Preset("chest", 2000.0, 3000.0),))
        assert [c.label for c in st.choices] == ["auto 0.5-99.5 %", "auto 2-98 %", "full range", "chest"]
        assert st.choice == 2 and st.minmax  # opens on its own (min-max) window
        s = controls.on_key(st, "p", img)
        assert (s.preset, s.center, s.width) == ("chest", 2000.0, 3000.0)
        s = controls.on_key(s, "p", img)
        assert s.auto == (0.5, 99.5) and s.choice == 0  # around again
        assert "4 chest" in " ".join(a for _, a in help_rows(st))

    def test_ct_adds_yours_after_the_nine(self):
        img = dcmlib.load(make_ds(ramp(16, 16, 0, 2000), RescaleIntercept=-1024, RescaleSlope=1))
        st = controls.initial_state(img, user_presets=(Preset("liver narrow", 60.0, 120.0),))
        assert [c.label for c in st.choices][-2:] == ["temporal bone", "liver narrow"]
        s = controls.on_key(st, "P", img)
        assert s.preset == "liver narrow"


class TestCommandLine:
    @pytest.fixture(autouse=True)
    def _no_developer_presets(self, monkeypatch, tmp_path_factory):
        """run_cli passes the environment on: no developer's default presets file reaches these runs."""
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("no-config")))

    def test_export_with_a_user_preset_equals_the_window(self, tmp_path):
        src = write_ds(make_ds(ramp(16, 16, 0, 4000, np.uint16), Modality="CR"), tmp_path / "cr.dcm")
        (tmp_path / "p.toml").write_text("[CR]\nchest = { center = 2000, width = 3000, function = 'sigmoid' }\n")
        a, b = tmp_path / "a.png", tmp_path / "b.png"
        r = run_cli(src, "--presets", tmp_path / "p.toml", "--preset", "chest", "--export", a)
        assert r.returncode == 0, r.stderr
        r = run_cli(src, "--window", "2000", "3000", "--mode", "sigmoid", "--export", b)
        assert r.returncode == 0, r.stderr
        assert np.array_equal(cv2.imread(str(a), cv2.IMREAD_UNCHANGED), cv2.imread(str(b), cv2.IMREAD_UNCHANGED))

    def test_a_bad_default_file_is_one_line_and_the_built_ins_still_work(self, tmp_path, monkeypatch):
        """The default presets file (not named on the command line) that cannot be used: one line, then the
        built-in presets; a file named with --presets is an error (tests/test_cli.py)."""
        src = write_ds(make_ds(ramp(16, 16, 0, 2000)), tmp_path / "ct.dcm")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        bad = tmp_path / "config" / "dcmview" / "presets.toml"
        bad.parent.mkdir(parents=True)
        bad.write_text("[CT]\nlung = { center = -600 }\n")
        for args in (["--export", tmp_path / "x.png"], ["convert", "--out", tmp_path / "out", "--no-progress"]):
            r = run_cli(*([args[0], src, *args[1:]] if args[0] == "convert" else [src, *args]), "--preset", "lung")
            assert r.returncode == 0, r.stderr
            assert r.stderr.splitlines()[0] == (
                f"dcmview: error: {bad}: [CT] preset 'lung': width must be a "
                "number, got None (using the built-in presets)"
            )
        assert (tmp_path / "x.png").exists() and (tmp_path / "out" / "ct.png").exists()

    def test_default_file_and_list(self, tmp_path):
        (tmp_path / "dcmview").mkdir()
        (tmp_path / "dcmview" / "presets.toml").write_text(TOML)
        import os
        import subprocess
        import sys

        from helpers import DCMVIEW, ROOT

        env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
        r = subprocess.run(
            [sys.executable, str(DCMVIEW), "--list-presets"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 and "T2 brain" in r.stdout and "liver narrow" in r.stdout
        assert "lung" in r.stdout.splitlines()[1]  # the built-in ones first

    def test_unknown_preset_names_both_sets(self, tmp_path):
        src = write_ds(make_ds(ramp(16, 16, 0, 2000)), tmp_path / "ct.dcm")
        (tmp_path / "p.toml").write_text(TOML)
        r = run_cli(src, "--presets", tmp_path / "p.toml", "--preset", "spine", "--export", tmp_path / "x.png")
        assert r.returncode == 2 and "unknown preset 'spine'" in r.stderr and "T2 brain" in r.stderr


# --------------------------------------------------------------------------- presets by modality in export and convert


def _by_modality(folder) -> dict[str, str]:
    """An MR with a stored window, a CR and an NM without one, a CT with a stored window: the files the
    issue met (12-bit values, windows far from the CT lung window)."""
    folder.mkdir(parents=True, exist_ok=True)
    values = ramp(32, 32, 0, 4000, np.uint16)
    files = {
        "MR": make_ds(values, Modality="MR", WindowCenter=2000, WindowWidth=4000),
        "CR": make_ds(values, Modality="CR"),
        "NM": make_ds(values, Modality="NM"),
        "CT": make_ds(
            values.astype(np.int16),
            Modality="CT",
            RescaleSlope=1,
            RescaleIntercept=-1024,
            WindowCenter=40,
            WindowWidth=400,
        ),
    }
    return {m: write_ds(ds, folder / f"{m}.dcm") for m, ds in files.items()}


def _windowed(path: str, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (LINEAR) worked here on the file's modality values, independent of dcmlib."""
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(path)
    x = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(
        np.where(x <= center - 0.5 - (width - 1) / 2, 0, np.where(x > center - 0.5 + (width - 1) / 2, 255, y)), 0, 255
    )


@pytest.mark.parametrize("modality", ["MR", "CR", "NM"])
def test_export_does_not_apply_a_ct_preset_to_another_modality(tmp_path, modality):
    """--preset lung on an MR, CR or NM: the file's own window (stored, else min-max) and one warning line."""
    path = _by_modality(tmp_path / "src")[modality]
    proc = run_cli(path, "--export", tmp_path / "out.png", "--preset", "lung")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"dcmview: warning: {path}: preset 'lung' is for CT (HU), not {modality}: the file's own window is used"
    ]
    own = _windowed(path, 2000, 4000) if modality == "MR" else _windowed(path, 2000, 4000 + 1)  # min-max: 0..4000
    got = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert_within_one(got, own)
    assert got.mean() < 250 and got.mean() > 5  # neither white nor black


def test_export_applies_a_ct_preset_to_ct_and_a_window_to_anything(tmp_path):
    files = _by_modality(tmp_path / "src")
    assert run_cli(files["CT"], "--export", tmp_path / "ct.png", "--preset", "lung").stderr == ""
    assert_within_one(cv2.imread(str(tmp_path / "ct.png"), cv2.IMREAD_UNCHANGED), _windowed(files["CT"], -600, 1500))
    proc = run_cli(files["MR"], "--export", tmp_path / "mr.png", "--window", "1000", "500")
    assert proc.returncode == 0 and proc.stderr == ""
    assert_within_one(cv2.imread(str(tmp_path / "mr.png"), cv2.IMREAD_UNCHANGED), _windowed(files["MR"], 1000, 500))


def test_convert_follows_the_same_rule_and_says_so_in_the_row(tmp_path):
    """convert --preset lung: applied to the CT, the file's own window elsewhere with the row's warning;
    each output equals --export with the same flags; a user preset for CR applies to the CR only."""
    import csv

    files = _by_modality(tmp_path / "src")
    (tmp_path / "p.toml").write_text("[CR]\nchest = [1000, 2000]\n")
    for preset in ("lung", "chest"):
        out = tmp_path / preset
        proc = run_cli(
            "convert",
            tmp_path / "src",
            "--out",
            out,
            "--preset",
            preset,
            "--presets",
            tmp_path / "p.toml",
            "--no-progress",
            "--workers",
            "1",
        )
        assert proc.returncode == 0, proc.stderr
        with open(out / "manifest.csv", newline="") as fh:
            rows = {r["modality"]: r for r in csv.DictReader(fh)}
        applies = {"lung": "CT", "chest": "CR"}[preset]
        for modality, row in rows.items():
            if modality == applies:
                assert (row["window_source"], row["warnings"]) == (f"preset {preset}", ""), row
            else:
                owner = "CT (HU)" if preset == "lung" else "CR"
                assert row["window_source"] != f"preset {preset}"
                assert (
                    row["warnings"]
                    == f"preset '{preset}' is for {owner}, not {modality}"
                    + (" (HU)" if modality == "CT" else "")
                    + ": the file's own window is used"
                ), row
            ref = tmp_path / f"ref-{preset}-{modality}.png"
            assert (
                run_cli(
                    files[modality], "--export", ref, "--preset", preset, "--presets", tmp_path / "p.toml"
                ).returncode
                == 0
            )
            assert (out / row["output"]).read_bytes() == ref.read_bytes()


def test_the_viewer_opens_on_the_files_window_for_a_preset_of_another_modality(tmp_path):
    """The start state follows the same rule (the CLI's options feed the viewer's initial state)."""
    import dcmview

    path = _by_modality(tmp_path / "src")["MR"]
    img = dcmlib.load(path)
    args = dcmview.build_parser().parse_args([path, "--preset", "lung"])
    frame, opts = dcmview.render_options(args, img)
    assert opts.preset is None
    state = controls.initial_state(img, frame=frame, preset=opts.preset)
    assert (state.center, state.width, state.preset) == (2000.0, 4000.0, None)
