package decide

import (
	"maps"

	"github.com/synapse-charm/synapse-k8s-go/workload"
)

// addAdminLocalpart gives a secret made before the charm kept its admin
// name one (leader): the actions' admin user is a random name made once,
// never a fixed one an identity provider's uid could match.
func (x *decider) addAdminLocalpart(id string, secrets *workload.Secrets) {
	s := x.s
	if secrets.AdminLocalpart != "" || !s.Leader || s.AppSecret.FreshAdminLocalpart == "" {
		return
	}
	content := maps.Clone(s.AppSecret.Content)
	content[workload.SecretKeyAdminLocalpart] = s.AppSecret.FreshAdminLocalpart
	x.d.UpdateSecret = &SecretUpdate{ID: id, Content: content}
	secrets.AdminLocalpart = s.AppSecret.FreshAdminLocalpart
	x.d.logf("adding the charm's admin name to the application secret %s", id)
}
