"""The training app: live coaching view, pre-session screening, debrief and replay (Qt).

Everything the app shows comes from the engine (`glovecoach.engine`) and the protocol file;
the app itself holds no thresholds. Layout of the package:

- `theme`       colours, fonts, the force colour scale
- `ring`        numpy ring buffer of recent forces, for the scrolling plots
- `session`     `SessionModel`: raw blocks -> calibration -> engine -> plots/alerts (Qt-free)
- `controller`  `LiveController`: drains a `GloveClient` on a QTimer, records the session
- `widgets/*`   plots, hand and spine maps, phase bar, alert banner and log
- `live_window` the live window (feedback modes, instructor layout)
- `connect`, `screening`  what comes before a session
- `debrief`, `report_html`  after a session
- `replay`      play/pause/scrub a recording through the same widgets
"""
