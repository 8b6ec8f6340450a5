# The platform's commands. `make run` and `make test` are all a fresh machine needs.
PY := .venv/bin/python
PLATFORM := $(PY) -m deploy.local.platform

.PHONY: install run down status demo trace logs token deadletters mail test bench kafka-read

install: ## install the pinned toolchain and the locked Python environment
	@./deploy/bootstrap.sh

run: install ## provision Kafka and Postgres, start the services (REPLICAS=n processes of each, behind HAProxy), print their addresses
	@$(PLATFORM) up$(if $(REPLICAS), --replicas $(REPLICAS))

down: ## stop the services, Kafka and Postgres; nothing is left running
	@$(PLATFORM) down

status: ## what runs and what is down (exit 0 when all or nothing runs), and whether the usury caps are current
	@$(PLATFORM) status

demo: ## walk one application to the counsellor's alert on the running platform
	@$(PLATFORM) demo

trace: ## print the last demo's trace as a tree, from Zipkin, with its page in Zipkin's UI (or TRACE=<id>)
	@$(PLATFORM) trace $(TRACE)

logs: ## every log line of one trace across the services, in time order (TRACE=<id>; default: the last demo's)
	@$(PLATFORM) logs $(TRACE)

token: ## a bearer token for the local platform: make token ARGS="--role counsellor --sub c-lefebvre --association secours-catholique --region hauts-de-france"
	@$(PLATFORM) token $(ARGS)

deadletters: ## the services' dead letters, for ops: make deadletters ARGS="list", ARGS="show <id>", ARGS="replay <id>…", ARGS="discard <id> --reason '…'"
	@$(PY) -m deploy.deadletters $(ARGS)

mail: ## the e-mails the local platform sent (notifications' alerts and digests), newest last: make mail ARGS="--last 50"
	@$(PY) -m deploy.local.mail $(ARGS)

test: install ## every test: unit, integration, end-to-end on a real broker and database, the web workspace in Chromium
	@./deploy/browser.sh > /dev/null
	@$(PY) -m pytest

bench: ## push APPLICATIONS through the running platform (CONCURRENCY at a time, or RATE a second) and print throughput (per replica count), latency per step and hop, memory
	@$(PY) -m bench.flow --applications $(or $(APPLICATIONS),200) --concurrency $(or $(CONCURRENCY),16) $(if $(RATE),--rate $(RATE))$(if $(REPLICAS), --replicas $(REPLICAS))

kafka-read: ## print a topic of the running local broker with Kafka's console consumer, as its admin: make kafka-read TOPIC=microcredit.loans.v1
	@$(PY) -m deploy.local.kafka_tools console-consumer --topic $(or $(TOPIC),microcredit.applications.v1) --from-beginning --formatter-property print.key=true $(ARGS)
