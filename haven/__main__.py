from haven.cli import main

raise SystemExit(main())
