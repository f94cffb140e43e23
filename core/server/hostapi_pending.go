package server

import (
	"context"
	"errors"

	"carenet.dev/platform/plugins/sdk"
)

// PENDING: host side of the HostAPI additions of issue 5 — being implemented.

var errPending = errors.New("hostapi: not implemented yet")

func (h *hostAPI) CheckSecret(ctx context.Context, sc sdk.Scope, userID, answer string) (bool, bool, error) {
	return false, false, errPending
}

func (h *hostAPI) SetRole(ctx context.Context, sc sdk.Scope, userID, role string, on bool) error {
	return errPending
}

func (h *hostAPI) List(ctx context.Context, sc sdk.Scope, subject string, limit int) ([]sdk.AuditEntry, error) {
	return nil, errPending
}

func (h *hostAPI) Delete(ctx context.Context, sc sdk.Scope, id string) error { return errPending }
