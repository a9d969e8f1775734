# The ratio benchmark suite (issue 7): benchmarks/README.md. Needs PostgreSQL (BENCH_PGHOST/BENCH_PGPORT,
# default 127.0.0.1:5432, user postgres), Redis and RabbitMQ as for the tests, and wrk, hyperfine, pgbench
# (apt-get install -y wrk hyperfine postgresql-client).
.PHONY: bench-quick bench-full bench-ci

## make bench-quick: 100k incidents, a few minutes; writes benchmarks/results/ and benchmarks/RESULTS.md.
bench-quick: venv
	$(BIN)/python -m benchmarks.run --mode quick --profile

## make bench-full: 1M incidents (the template takes a while the first time; later runs clone it).
bench-full: venv
	$(BIN)/python -m benchmarks.run --mode full --profile

## make bench-ci: the quick data set with short rounds; fails when a ratio misses its CI gate (goals.toml).
bench-ci: venv
	$(BIN)/python -m benchmarks.run --mode ci --gate
