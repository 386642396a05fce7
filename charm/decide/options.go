package decide

import "fmt"

// What the options of the Python charm that this charm cannot honour
// everywhere need in the synapse image.
const (
	// InviteCheckerModule is what invite_checker_* load into Synapse.
	InviteCheckerModule = "synapse_invite_checker"
	// MjolnirProgram, DraupnirProgram and MediaUploadProgram are what the
	// Python charm runs for enable_mjolnir, enable_draupnir and
	// enable_media_sync_cleanup (Canonical's synapse rock ships them).
	MjolnirProgram     = "/mjolnir-entrypoint.sh"
	DraupnirProgram    = "/draupnir-entrypoint.sh"
	MediaUploadProgram = "/usr/local/bin/s3_media_upload"
)

// optionProgram is an option this charm does not act on, as data: the
// status says so, and whether the image has what the Python charm ran.
type optionProgram struct {
	option, program, what string
	on                    func(*Snapshot) bool
}

var optionPrograms = []optionProgram{
	{"enable_mjolnir", MjolnirProgram, "the Mjolnir moderation bot", func(s *Snapshot) bool { return s.Config.EnableMjolnir }},
	{"enable_draupnir", DraupnirProgram, "the Draupnir moderation bot", func(s *Snapshot) bool { return s.Config.EnableDraupnir }},
	{"enable_media_sync_cleanup", MediaUploadProgram, "the media sync after create-backup (s3_media_upload)", func(s *Snapshot) bool { return s.Config.EnableMediaSyncCleanup }},
}

// OptionPrograms lists the image files to check this hook: those of the
// options that are on.
func OptionPrograms(s *Snapshot) []string {
	var out []string
	for _, o := range optionPrograms {
		if o.on(s) {
			out = append(out, o.program)
		}
	}
	return out
}

// InviteCheckerOn reports whether the configuration loads the
// synapse_invite_checker module.
func InviteCheckerOn(s *Snapshot) bool {
	return s.Config.InviteCheckerBlocklistAllowlistURL != "" || len(s.Config.InviteCheckerPolicyRooms) > 0
}

// options blocks on the options the image or this charm cannot honour. It
// returns false only when rendering would break Synapse (a module the
// image lacks): the workload then stays as it was. The options this charm
// does not run block the status but leave Synapse serving the rest of
// the configuration: nothing is silently ignored, and nothing is lost.
func (x *decider) options() bool {
	s, d, app := x.s, x.d, x.ev().App
	for _, o := range optionPrograms {
		if !o.on(s) {
			continue
		}
		has, checked := s.Image.Programs[o.program]
		image := fmt.Sprintf("the synapse image lacks %s", o.program)
		switch {
		case !checked:
			image = "the Python charm ran it from " + o.program + " in Canonical's synapse rock"
		case has:
			image = "the image has " + o.program
		}
		d.blocked(RankImage, "%s is on, but this charm does not run %s (%s): juju config %s %s=false", o.option, o.what, image, app, o.option)
	}
	if InviteCheckerOn(s) && s.Synapse.Reachable && !x.hasModule(InviteCheckerModule) {
		d.blocked(RankImage, "invite_checker_* options need the %s module (nbuechner/synapse-invite-checker, as in Canonical's synapse rock) in the synapse image: use such an image, or juju config %s --reset invite_checker_blocklist_allowlist_url,invite_checker_policy_rooms", InviteCheckerModule, app)
		return false
	}
	return true
}
