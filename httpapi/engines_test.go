package httpapi_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// onPostgres is every API test, run again with PostgreSQL under the API.
var onPostgres = map[string]func(*testing.T){
	"Health": TestHealth, "Auth": TestAuth, "NoRoute": TestNoRoute, "APIKeyRevocation": TestAPIKeyRevocation, "Tenants": TestTenants,
	"EventTypes": TestEventTypes, "EventDataMeasuredCompacted": TestEventDataMeasuredCompacted, "WebhookCreate": TestWebhookCreate, "WebhookValidation": TestWebhookValidation,
	"WebhookPolicyFlags": TestWebhookPolicyFlags, "WebhookPatchDelete": TestWebhookPatchDelete,
	"WebhookList": TestWebhookList, "Publish": TestPublish, "ClientGoneMidPublish": TestClientGoneMidPublish, "PublishIdempotency": TestPublishIdempotency,
	"SizeLimits": TestSizeLimits, "ListEvents": TestListEvents, "DeleteTenantRemovesEverything": TestDeleteTenantRemovesEverything,
	"UnknownRoute": TestUnknownRoute, "PublishSeesWritesAtOnce": TestPublishSeesWritesAtOnce,
	"SchemeMigrationKeepsSecret": TestSchemeMigrationKeepsSecret, "RotationsKeepEarlierSecrets": TestRotationsKeepEarlierSecrets, "PortalSessions": TestPortalSessions,
	"WebhookPatchUpdatedAt": TestWebhookPatchUpdatedAt, "ConcurrentPatches": TestConcurrentPatches, "RetryWhileSending": TestRetryWhileSending,
	"AuditLog": TestAuditLog, "BulkActionsAudited": TestBulkActionsAudited, "TenantDeliveries": TestTenantDeliveries, "CancelDeliveries": TestCancelDeliveries, "RetryAllFailedWindow": TestRetryAllFailedWindow, "Replay": TestReplay, "EventTypeExamples": TestEventTypeExamples, "SvixScheme": TestSvixScheme, "BodyMode": TestBodyMode, "InputHardening": TestInputHardening, "RotationGraceOnOneSignatureSchemes": TestRotationGraceOnOneSignatureSchemes, "URLText": TestURLText, "RequestBodies": TestRequestBodies, "CursorListsRefuseOffsets": TestCursorListsRefuseOffsets, "SchemeHeaderKept": TestSchemeHeaderKept,
}

// Tests that do not touch a store, and so are not run twice.
var storeless = []string{"TestOpenAPIMatchesRoutes", "TestOnPostgres", "TestEveryTestOnPostgres", "TestReadAll"}

// TestOnPostgres runs the API tests on PostgreSQL (from HOOKD_TEST_POSTGRES,
// a schema per test); newEnv picks the engine from the test's name.
func TestOnPostgres(t *testing.T) {
	if os.Getenv("HOOKD_TEST_POSTGRES") == "" {
		t.Skip("HOOKD_TEST_POSTGRES is not set")
	}
	for name, fn := range onPostgres {
		t.Run(name, fn)
	}
}

// TestEveryTestOnPostgres keeps onPostgres complete: a new API test runs on
// both engines unless it is listed as storeless.
func TestEveryTestOnPostgres(t *testing.T) {
	files, _ := filepath.Glob("*_test.go")
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name := range parsed.Scope.Objects {
			if !strings.HasPrefix(name, "Test") || slices.Contains(storeless, name) {
				continue
			}
			if _, ok := onPostgres[strings.TrimPrefix(name, "Test")]; !ok {
				t.Errorf("%s (%s) is not in onPostgres", name, f)
			}
		}
	}
}
