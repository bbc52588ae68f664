from pynmap.cli.app import main

raise SystemExit(main())
