from trackscope.cli import main

main()
