"""One colour per emotion, the same in the app (boxes, bars, timeline) and the report; legible on dark and light."""

EMOTION_COLORS: dict[str, str] = {
    "angry": "#e5484d",
    "disgust": "#46a758",
    "fear": "#8e4ec6",
    "happy": "#f0b400",
    "sad": "#3e8ef7",
    "surprise": "#f76b15",
    "neutral": "#a0a7b4",
}
UNCERTAIN_COLOR = "#d0d0d0"
