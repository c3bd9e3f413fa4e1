from benchmarks.peers.compare import main

main()
