.PHONY: install build demo test bench bench-deps fixtures certs clean

install:
	npm install

build:
	npm run build

demo:
	npm run demo

test:
	npm test

bench:
	npm run bench

# The real peers the tests and the benchmark compare against.
bench-deps:
	apt-get update -qq && apt-get install -y -qq haproxy nginx libnginx-mod-stream openssl curl

fixtures:
	npm run fixtures

certs:
	./scripts/make-certs.sh

clean:
	rm -rf dist .tmp
