from crmkit.cli import main

raise SystemExit(main())
