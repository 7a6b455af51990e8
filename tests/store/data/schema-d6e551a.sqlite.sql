-- The schema Base.metadata.create_all made at commit d6e551a (sqlite), before there were
-- migrations: what tests/store/test_migrations.py upgrades from. Generated from that commit's
-- models by compiling create_all's own statements; never edit by hand.

CREATE TABLE appointment_changes (
	id INTEGER NOT NULL,
	brand VARCHAR(128) NOT NULL,
	appointment_id VARCHAR(128) NOT NULL,
	sequence INTEGER NOT NULL,
	kind VARCHAR(16) NOT NULL,
	"by" VARCHAR(16) NOT NULL,
	status VARCHAR(16) NOT NULL,
	start VARCHAR(32) NOT NULL,
	"end" VARCHAR(32) NOT NULL,
	message_id VARCHAR(40) NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_appointment_changes_sequence UNIQUE (brand, appointment_id, sequence)
);

CREATE TABLE idempotency_keys (
	"key" VARCHAR(255) NOT NULL,
	request_hash VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	status_code INTEGER,
	response JSON,
	message_id VARCHAR(40),
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY ("key")
);

CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);

CREATE TABLE jobs (
	id VARCHAR(40) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	status VARCHAR(16) NOT NULL,
	total INTEGER NOT NULL,
	done INTEGER NOT NULL,
	failed INTEGER NOT NULL,
	cancelled INTEGER NOT NULL,
	callback_url VARCHAR(2000),
	dispatched BOOLEAN NOT NULL,
	webhook_id VARCHAR(40),
	webhook_note VARCHAR(300),
	created_at DATETIME NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	PRIMARY KEY (id)
);

CREATE INDEX ix_jobs_status ON jobs (status);

CREATE TABLE messages (
	id VARCHAR(40) NOT NULL,
	type VARCHAR(20) NOT NULL,
	brand VARCHAR(128) NOT NULL,
	locale VARCHAR(35) NOT NULL,
	customer_id VARCHAR(128),
	reference VARCHAR(200),
	channels JSON NOT NULL,
	request JSON NOT NULL,
	document JSON NOT NULL,
	envelope JSON,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_messages_created_at ON messages (created_at);

CREATE INDEX ix_messages_customer_id ON messages (customer_id);

CREATE TABLE profiles (
	customer_id VARCHAR(128) NOT NULL,
	data JSON NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (customer_id)
);

CREATE TABLE slot_bookings (
	brand VARCHAR(128) NOT NULL,
	resource VARCHAR(300) NOT NULL,
	starts_at VARCHAR(16) NOT NULL,
	appointment_id VARCHAR(128) NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (brand, resource, starts_at)
);

CREATE INDEX ix_slot_bookings_appointment_id ON slot_bookings (appointment_id);

CREATE TABLE appointment_messages (
	message_id VARCHAR(40) NOT NULL,
	brand VARCHAR(128) NOT NULL,
	appointment_id VARCHAR(128) NOT NULL,
	sequence INTEGER NOT NULL,
	stage VARCHAR(16) NOT NULL,
	"view" JSON NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (message_id),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);

CREATE INDEX ix_appointment_messages_appointment ON appointment_messages (brand, appointment_id);

CREATE TABLE appointments (
	brand VARCHAR(128) NOT NULL,
	appointment_id VARCHAR(128) NOT NULL,
	status VARCHAR(16) NOT NULL,
	start VARCHAR(32) NOT NULL,
	"end" VARCHAR(32) NOT NULL,
	timezone VARCHAR(64) NOT NULL,
	starts_at DATETIME NOT NULL,
	location JSON NOT NULL,
	sequence INTEGER NOT NULL,
	slots JSON NOT NULL,
	taken_slot JSON,
	callback_url VARCHAR(2000),
	resource VARCHAR(300) NOT NULL,
	customer_id VARCHAR(128),
	message_id VARCHAR(40),
	changed_by VARCHAR(16) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (brand, appointment_id),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE SET NULL
);

CREATE TABLE artifacts (
	message_id VARCHAR(40) NOT NULL,
	name VARCHAR(64) NOT NULL,
	content_type VARCHAR(128) NOT NULL,
	path VARCHAR(512) NOT NULL,
	size INTEGER NOT NULL,
	sha256 VARCHAR(64) NOT NULL,
	PRIMARY KEY (message_id, name),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);

CREATE TABLE job_items (
	job_id VARCHAR(40) NOT NULL,
	position INTEGER NOT NULL,
	state VARCHAR(16) NOT NULL,
	priority INTEGER NOT NULL,
	request JSON,
	reference VARCHAR(200),
	token VARCHAR(40),
	message_id VARCHAR(40),
	problem JSON,
	attempts INTEGER NOT NULL,
	lease_until DATETIME,
	started_at DATETIME,
	finished_at DATETIME,
	PRIMARY KEY (job_id, position),
	FOREIGN KEY(job_id) REFERENCES jobs (id) ON DELETE CASCADE
);

CREATE INDEX ix_job_items_claim ON job_items (state, priority, job_id, position);

CREATE TABLE message_events (
	id INTEGER NOT NULL,
	message_id VARCHAR(40) NOT NULL,
	kind VARCHAR(40) NOT NULL,
	detail TEXT,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);

CREATE INDEX ix_message_events_message_id ON message_events (message_id);

CREATE TABLE offers_shown (
	message_id VARCHAR(40) NOT NULL,
	offer_id VARCHAR(128) NOT NULL,
	customer_id VARCHAR(128) NOT NULL,
	brand VARCHAR(128) NOT NULL,
	shown_at DATETIME NOT NULL,
	PRIMARY KEY (message_id, offer_id),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);

CREATE INDEX ix_offers_shown_customer ON offers_shown (customer_id, brand, shown_at);

CREATE TABLE webhook_deliveries (
	id VARCHAR(40) NOT NULL,
	message_id VARCHAR(40) NOT NULL,
	result_message_id VARCHAR(40),
	event_type VARCHAR(64) NOT NULL,
	url VARCHAR(2000) NOT NULL,
	payload TEXT NOT NULL,
	status VARCHAR(16) NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at DATETIME NOT NULL,
	locked_until DATETIME,
	last_status_code INTEGER,
	last_error VARCHAR(500),
	created_at DATETIME NOT NULL,
	delivered_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(message_id) REFERENCES messages (id) ON DELETE CASCADE
);

CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

CREATE INDEX ix_webhook_deliveries_message_id ON webhook_deliveries (message_id);

CREATE INDEX ix_webhook_deliveries_result_message_id ON webhook_deliveries (result_message_id);
