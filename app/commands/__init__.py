"""One module per `emolens` command: each has `register(sub)`, which adds its parser, and `run(args)`."""

from app.commands import (
    analyze,
    batch,
    bench,
    devices,
    explain,
    export,
    export_models,
    fit_fusion,
    fit_gate,
    gui,
    kiosk,
    repair,
    report,
    train_explainer,
)

# In the order `emolens --help` lists them.
COMMANDS = (
    gui,
    kiosk,
    analyze,
    batch,
    report,
    repair,
    export,
    devices,
    bench,
    train_explainer,
    explain,
    fit_gate,
    fit_fusion,
    export_models,
)
