#!/usr/bin/env bash
# The Debian packages emolens needs beside its Python wheels; installs only what is missing.
set -euo pipefail
packages=(
    python3-venv     # the .venv
    libgl1 libglib2.0-0   # OpenCV's wheel links them
    libportaudio2    # sounddevice (microphone)
    # Qt's wheel brings Qt; these are the system libraries it links, and fonts to draw text with
    libegl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 fonts-dejavu-core
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
    libxcb-render-util0 libxcb-image0
    xvfb xauth       # a virtual screen: the app's screenshots and its tests under X
    openbox xdotool imagemagick   # a window manager on it, keys and clicks as a user gives them, screenshots
    # a virtual microphone for the tests (a PulseAudio null sink that sounddevice records through ALSA's
    # pulse plugin), and a voice to play into it
    pulseaudio pulseaudio-utils libasound2-plugins espeak-ng
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "Debian packages: all present"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Debian packages: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
