package relations_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/synapse-charm/synapse-k8s-go/relations"
)

func TestDatabaseRequest(t *testing.T) {
	req := relations.DatabaseRequest("synapse")
	assert.Equal(t, "synapse", req["database"])
	assert.Equal(t, "SUPERUSER", req["extra-user-roles"])
	var secrets []string
	require.NoError(t, json.Unmarshal([]byte(req["requested-secrets"]), &secrets))
	assert.Contains(t, secrets, "username")
	assert.Contains(t, secrets, "password")
}

func TestParseDatabase(t *testing.T) {
	withSecret := map[string]string{
		"secret-user": "secret://uuid/abc",
		"endpoints":   "postgresql-k8s-primary.m.svc.cluster.local:5432",
		"database":    "synapse",
		"version":     "14.12",
	}
	tests := []struct {
		name    string
		app     map[string]string
		secret  map[string]string
		want    *relations.Database
		notYet  bool
		wantErr string
	}{
		{name: "nothing yet", app: map[string]string{}, notYet: true},
		{name: "secret not readable yet", app: withSecret, notYet: true},
		{name: "secret", app: withSecret, secret: map[string]string{"username": "relation_id_7", "password": "abcdefghijklmnop"},
			want: &relations.Database{Host: "postgresql-k8s-primary.m.svc.cluster.local", Port: 5432, Name: "synapse", User: "relation_id_7", Password: "abcdefghijklmnop"}},
		{name: "plain", app: map[string]string{"username": "u", "password": "p", "endpoints": "10.0.0.1:5433,10.0.0.2:5433"},
			want: &relations.Database{Host: "10.0.0.1", Port: 5433, Name: "req", User: "u", Password: "p"}},
		{name: "ipv6", app: map[string]string{"username": "u", "password": "p", "endpoints": "[fd00::1]:5432"},
			want: &relations.Database{Host: "fd00::1", Port: 5432, Name: "req", User: "u", Password: "p"}},
		{name: "tls", app: map[string]string{"username": "u", "password": "p", "endpoints": "h:1", "tls": "True", "tls-ca": "PEM"},
			want: &relations.Database{Host: "h", Port: 1, Name: "req", User: "u", Password: "p", TLS: true, TLSCA: "PEM"}},
		{name: "garbage endpoints", app: map[string]string{"username": "u", "password": "p", "endpoints": "{not json"}, wantErr: "endpoints"},
		{name: "port out of range", app: map[string]string{"username": "u", "password": "p", "endpoints": "h:70000"}, wantErr: "endpoints"},
		{name: "garbage tls", app: map[string]string{"username": "u", "password": "p", "endpoints": "h:1", "tls": "perhaps"}, wantErr: "tls"},
		{name: "credentials without endpoints", app: map[string]string{"username": "u", "password": "p"}, notYet: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := relations.ParseDatabase(tt.app, tt.secret, "req")
			switch {
			case tt.notYet:
				assert.True(t, errors.Is(err, relations.ErrNotReady), "got %v", err)
			case tt.wantErr != "":
				assert.ErrorContains(t, err, tt.wantErr)
				assert.False(t, errors.Is(err, relations.ErrNotReady))
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}
