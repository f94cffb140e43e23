-- B1: what an amendment changes in the service besides its text — the plan, the options, the
-- answering hours — and the day it applies: the first day of the period that follows its
-- effective day (at once while the subscription is not signed yet). A change is applied once
-- and never edited; '' (or change_options false) leaves that part as it is.
CREATE TABLE billing_spec_changes (
    tenant_id        TEXT NOT NULL,
    specification_id TEXT NOT NULL,
    subscription_id  TEXT NOT NULL,
    plan_id          TEXT NOT NULL DEFAULT '',
    change_options   BOOLEAN NOT NULL DEFAULT FALSE,
    options          TEXT NOT NULL DEFAULT '',
    hours            TEXT NOT NULL DEFAULT '',
    applies_on       TEXT NOT NULL,
    applied_at       TIMESTAMP NULL,
    PRIMARY KEY (tenant_id, specification_id)
);
CREATE INDEX billing_spec_changes_due ON billing_spec_changes (tenant_id, applies_on);

-- B1, P6: how a subscription was signed — online by the client after accepting the general
-- terms, or on a paper order form the clerk records — the day, and the terms version accepted.
CREATE TABLE billing_signatures (
    tenant_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    method          TEXT NOT NULL,
    signed_on       TEXT NOT NULL,
    terms_version   TEXT NOT NULL,
    recorded_by     TEXT NOT NULL DEFAULT '',
    recorded_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id),
    CHECK (method IN ('online', 'paper')),
    CHECK (terms_version <> '')
);

-- P6, B1: a subscription is never active (nor suspended) without the
-- version of the general terms the client accepted before signing.
CREATE TRIGGER billing_subscriptions_terms_insert BEFORE INSERT ON billing_subscriptions
WHEN NEW.state IN ('active', 'suspended') AND NEW.terms_version = ''
BEGIN SELECT RAISE(ABORT, 'billing_subscriptions_terms: a signed subscription needs its terms version'); END;
CREATE TRIGGER billing_subscriptions_terms_update BEFORE UPDATE ON billing_subscriptions
WHEN NEW.state IN ('active', 'suspended') AND NEW.terms_version = ''
BEGIN SELECT RAISE(ABORT, 'billing_subscriptions_terms: a signed subscription needs its terms version'); END;
