from normbench.cli.main import main

main()
