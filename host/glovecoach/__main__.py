from glovecoach.cli import main

raise SystemExit(main())
