"""The kiosk's locks as a passer-by and its operator meet them: one lockout for every PIN prompt, kept across
Cancel and restarts, growing; the PIN changed only with the PIN; a service manager's SIGTERM obeyed.

The prompts are driven with key events (pytest-qt, offscreen), and the whole kiosk under a real X server with a
window manager (Xvfb, openbox), keys typed by xdotool, as a person at the screen types them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import EMOLENS, GROUP_CLIP, run_emolens

pytest.importorskip("PyQt6")

from PyQt6.QtCore import Qt  # noqa: E402

from app.gui.preferences import Preferences, PreferencesStore  # noqa: E402
from app.kiosk_lockout import BACKOFF_S, KioskLockout  # noqa: E402
from app.kiosk_pin import hash_pin, verify_pin  # noqa: E402

PIN = "2468"


@pytest.fixture
def store(tmp_path):
    store = PreferencesStore(tmp_path / "emolens.ini")
    store.save(
        Preferences(
            source=str(GROUP_CLIP),
            record_root=str(tmp_path / "sessions"),
            explainer=False,
            kiosk_pin_hash=hash_pin(PIN, iterations=1000),
        )
    )
    return store


def _type_pin(qtbot, dialog, pin: str) -> None:
    qtbot.keyClicks(dialog.pin, pin)
    qtbot.keyClick(dialog.pin, Qt.Key.Key_Return)


def test_five_wrong_pins_lock_every_prompt_across_cancel_and_restart_and_the_lock_grows(qtbot, store):
    from app.gui.kiosk_window import KioskWindow

    now = [1_000_000.0]
    kiosk = KioskWindow(store, clock=lambda: now[0])
    qtbot.addWidget(kiosk)
    kiosk.show()
    kiosk.request_exit()  # Esc
    dialog = kiosk.pin_dialog
    for n in range(4):
        _type_pin(qtbot, dialog, "1111")
        assert dialog.message.text() == f"Wrong PIN ({4 - n} more before a lock)"
    _type_pin(qtbot, dialog, "1111")
    assert dialog.locked and dialog.pin.isReadOnly()
    assert dialog.message.text() == "Too many wrong PINs: locked, try again in 30 s"

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Cancel ...
    assert not dialog.isVisible()
    kiosk.request_exit()  # ... and Esc again: a fresh prompt, the same lock
    dialog = kiosk.pin_dialog
    assert dialog.isVisible() and dialog.locked and dialog.pin.isReadOnly()
    _type_pin(qtbot, dialog, PIN)  # typing goes nowhere; Return says it is locked
    dialog.pin.setText(PIN)  # even the right PIN, given while locked, opens nothing
    dialog.try_pin()
    assert kiosk.isVisible() and dialog.isVisible() and "try again in" in dialog.message.text()

    now[0] += 12
    restarted = KioskWindow(store, clock=lambda: now[0])  # the kiosk restarted in the lock
    qtbot.addWidget(restarted)
    assert 17 <= restarted.lockout.remaining_s() <= 18

    now[0] += 19  # the 30 s are over: five more wrong PINs lock for the next step, 1 min
    qtbot.waitUntil(lambda: dialog.message.text() == "You can try again now", timeout=3000)
    for _ in range(5):
        _type_pin(qtbot, dialog, "9999")
    assert dialog.locked and dialog.message.text().endswith("try again in 60 s")
    now[0] += BACKOFF_S[1] + 1
    qtbot.waitUntil(lambda: not dialog.pin.isReadOnly(), timeout=3000)
    _type_pin(qtbot, dialog, PIN)
    qtbot.waitUntil(lambda: not kiosk.isVisible(), timeout=5000)
    assert KioskLockout(store, store.load().kiosk_pin_hash).state.locks == 0  # the right PIN resets it


def test_a_hand_edited_lockout_record_reads_as_locked_not_unlocked(store):
    pin_hash = store.load().kiosk_pin_hash
    lockout = KioskLockout(store, pin_hash)
    for _ in range(5):
        lockout.wrong()
    body, signature = store.lockout_record().rsplit("|", 1)
    edited = json.loads(body) | {"locks": 0, "locked_until": 0.0}
    store.save_lockout_record(json.dumps(edited, sort_keys=True) + "|" + signature)
    again = KioskLockout(store, pin_hash)
    assert again.tampered and again.remaining_s() > BACKOFF_S[-1] - 5
    store.save_lockout_record("garbage")
    assert KioskLockout(store, pin_hash).remaining_s() > BACKOFF_S[-1] - 5


def test_the_pin_changes_only_with_the_current_pin(qtbot, store, tmp_path):
    from app.gui.launch import set_kiosk_pin
    from app.gui.settings_dialog import SettingsDialog
    from engines.errors import EmolensError

    prefs = store.load()
    lockout = KioskLockout(store, prefs.kiosk_pin_hash)
    dialog = SettingsDialog(prefs, None, lockout=lockout)
    qtbot.addWidget(dialog)
    dialog.new_pin.setText("1357")
    dialog.repeat_pin.setText("1357")
    dialog.accept()  # no current PIN
    assert dialog.result() == 0 and "current PIN is wrong" in dialog.error.text()
    dialog.current_pin.setText("0000")
    dialog.accept()
    assert dialog.result() == 0 and lockout.state.failures == 2  # counted as at every PIN prompt
    dialog.current_pin.setText(PIN)
    dialog.accept()
    assert dialog.result() == 1 and verify_pin("1357", dialog.preferences().kiosk_pin_hash)

    settings = tmp_path / "emolens.ini"
    with pytest.raises(EmolensError, match="wrong PIN, nothing changed"):
        set_kiosk_pin(settings, pin="1357", current="0000")
    assert verify_pin(PIN, PreferencesStore(settings).load().kiosk_pin_hash)
    set_kiosk_pin(settings, pin="1357", current=PIN)
    assert verify_pin("1357", PreferencesStore(settings).load().kiosk_pin_hash)
    assert PreferencesStore(settings).lockout_record() == ""  # a new PIN starts with a clean count

    forgot = run_emolens("kiosk", "--settings", str(settings), "--forget-pin")
    assert forgot.returncode == 0 and "set a new one" in forgot.stdout
    assert PreferencesStore(settings).load().kiosk_pin_hash == ""
    nowhere = tmp_path / "no-such.ini"  # nothing to forget: said so, and no file made
    forgot = run_emolens("kiosk", "--settings", str(nowhere), "--forget-pin")
    assert forgot.returncode == 2 and "no kiosk PIN is set" in forgot.stderr and not nowhere.exists()


def _xdo(env, *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, capture_output=True, timeout=10)


def _xdo_names(env, text: str) -> list[str]:
    """The windows shown on the screen whose title holds `text`."""
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", text], env=env, capture_output=True, text=True
    )
    return found.stdout.split()


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (the explainer's, and any it started), from /proc."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def _emolens_processes(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_the_kiosk_on_a_real_screen_stays_locked_through_cancel_and_stops_on_sigterm(x_display, model_dir, tmp_path):
    """Under Xvfb with openbox: Esc, five wrong PINs typed, Cancel, Esc, the right PIN: still running, locked.
    Then SIGTERM, as systemd sends it: gone within 3 s, its log closed as stopped, its explainer process ended
    too."""
    settings = tmp_path / "kiosk.ini"
    PreferencesStore(settings).save(Preferences(source=str(GROUP_CLIP), record_root=str(tmp_path / "sessions")))
    from app.gui.launch import set_kiosk_pin

    set_kiosk_pin(settings, pin=PIN)
    kiosk = subprocess.Popen(
        [str(EMOLENS), "kiosk", "--settings", str(settings)],
        env=x_display,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        csvs = []
        while time.monotonic() < deadline and kiosk.poll() is None:
            csvs = list((tmp_path / "sessions").rglob("frames.csv"))
            if csvs and len(csvs[0].read_text().splitlines()) > 5:
                break
            time.sleep(0.2)
        assert kiosk.poll() is None and csvs, kiosk.stderr.read() if kiosk.poll() is not None else "no rows"
        while not _descendants(kiosk.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        children = _descendants(kiosk.pid)
        assert children  # the explainer runs in a process of its own
        _xdo(x_display, "key", "Escape")
        time.sleep(0.5)
        for _ in range(5):
            _xdo(x_display, "type", "--delay", "20", "1111")
            _xdo(x_display, "key", "Return")
            time.sleep(0.6)  # each check of a PIN takes a PBKDF2 hash
        store = PreferencesStore(settings)
        assert KioskLockout(store, store.load().kiosk_pin_hash).state.locks == 1
        _xdo(x_display, "key", "Escape")  # Cancel
        time.sleep(0.3)
        _xdo(x_display, "key", "Escape")  # a new prompt
        time.sleep(0.3)
        _xdo(x_display, "type", "--delay", "20", PIN)
        _xdo(x_display, "key", "Return")
        time.sleep(1.5)
        subprocess.run(["import", "-window", "root", str(tmp_path / "locked.png")], env=x_display, timeout=20)
        assert kiosk.poll() is None  # still running: the lock held
        assert _xdo_names(x_display, "enter the PIN")  # and its prompt is still up, saying so
        (shown,) = _xdo_names(x_display, "^emolens kiosk$")
        _xdo(x_display, "windowminimize", shown)  # what openbox's Alt+Space menu offers any window
        time.sleep(1.0)
        assert _xdo_names(x_display, "^emolens kiosk$") == [shown]  # back at once: no way to the desktop

        kiosk.send_signal(signal.SIGTERM)
        start = time.monotonic()
        kiosk.wait(timeout=10)
        took = time.monotonic() - start
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
    assert took <= 3.0 and kiosk.returncode == 0, kiosk.stderr.read()
    (day,) = (tmp_path / "sessions" / "kiosk").iterdir()
    (folder,) = day.iterdir()
    session = json.loads((folder / "session.json").read_text())
    assert session["status"] == "stopped" and (folder / "frames.parquet").exists()
    assert [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()][-1]["status"] == "stopped"
    while any(_alive(pid) for pid in children) and time.monotonic() < start + 3.0:  # within the 3 s, all of it
        time.sleep(0.05)
    left = {pid: _cmdline(pid) for pid in children if _alive(pid)}
    assert _emolens_processes(str(settings)) == [] and not left, left


def test_the_shipped_service_and_autostart_files_start_the_kiosk_and_stop_it_with_sigterm():
    """deploy/: what the README tells an operator to copy; the stop waits longer than the kiosk needs (3 s)."""
    import configparser
    from pathlib import Path

    deploy = Path(__file__).parents[1] / "deploy"
    unit = configparser.ConfigParser(interpolation=None)
    unit.read(deploy / "emolens-kiosk.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("/.venv/bin/emolens kiosk") and service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 3 and service["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == unit["Unit"]["PartOf"] == "graphical-session.target"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(deploy / "emolens-kiosk.desktop")
    assert entry["Desktop Entry"]["Type"] == "Application"
    assert entry["Desktop Entry"]["Exec"].endswith("/.venv/bin/emolens\" kiosk'")
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "cp deploy/emolens-kiosk.service ~/.config/systemd/user/" in readme
    assert "cp deploy/emolens-kiosk.desktop ~/.config/autostart/" in readme
