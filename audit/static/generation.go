package static

import (
	"go/types"
	"strings"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// status-go has asked for MVDS in two ways. Until March 2024 (commit
// 8c5a73543) a RawMessage carried a bool, ResendAutomatically: sendPrivate
// used datasync when it was true, SendPrivate rejected it together with
// Sender, the skip-encryption flag or SendOnPersonalTopic, and the
// raw-message loop picked up every saved message that had it set (and every
// chat message and emoji reaction) but re-dispatched only public and
// community chat messages. Since then the ResendType enum says the same for
// the private path and ResendTypeRawMessage says it for the loop. The audit
// judges both with one table (statusgo.SendFunc.Deliver): a true
// ResendAutomatically is ResendTypeDataSync where the message takes the
// private path and ResendTypeRawMessage with ResendMethodDynamic anywhere
// else, which is exactly what the old code did.

// autoField is the RawMessage field of the first generation.
const autoField = "ResendAutomatically"

// skipFields are the names the "skip the encryption layer" flag had:
// SkipEncryption until June 2023, SkipProtocolLayer until November 2023,
// SkipEncryptionLayer since. SendPrivate rejected each with DataSync.
var skipFields = map[string]bool{"SkipEncryptionLayer": true, "SkipProtocolLayer": true, "SkipEncryption": true}

// skipOf reads the skip-encryption flag under whichever name the message
// sets it, and returns that name.
func skipOf(msg Snapshot) (Value, string) {
	for _, f := range []string{"SkipEncryptionLayer", "SkipProtocolLayer", "SkipEncryption"} {
		if v, ok := msg.Fields[f]; ok {
			return v, f
		}
	}
	return msg.field("SkipEncryptionLayer"), "SkipEncryptionLayer"
}

// legacyRawMessage reports whether the tree's RawMessage, as the type
// checker sees it from pkg, is of the first generation (has
// ResendAutomatically and no ResendType).
func legacyRawMessage(pkg *types.Package) bool {
	common := findPackage(pkg, statusgo.CommonPath)
	if common == nil {
		return false
	}
	tn, ok := common.Scope().Lookup(statusgo.RawMessageType).(*types.TypeName)
	if !ok {
		return false
	}
	st, ok := tn.Type().Underlying().(*types.Struct)
	if !ok {
		return false
	}
	auto, typed := false, false
	for i := 0; i < st.NumFields(); i++ {
		switch st.Field(i).Name() {
		case autoField:
			auto = true
		case "ResendType":
			typed = true
		}
	}
	return auto && !typed
}

// resendOf returns the value that decides whether a message asks for MVDS,
// and whether it is the first generation's ResendAutomatically. A message
// that sets neither field follows the tree's generation.
func (e *engine) resendOf(msg Snapshot) (Value, bool) {
	if _, ok := msg.Fields[autoField]; ok {
		return msg.field(autoField), true
	}
	if _, ok := msg.Fields["ResendType"]; ok {
		return msg.field("ResendType"), false
	}
	if e.legacy {
		return msg.field(autoField), true
	}
	return msg.field("ResendType"), false
}

// resendName renders a resolved resend setting the way the site's source
// spells it.
func resendName(v Value, legacy bool) string {
	if legacy {
		return autoField + ": " + constName(v)
	}
	return constName(v)
}

// deliver judges one message at one send function in either generation.
func deliver(f statusgo.SendFunc, m statusgo.Message, legacy, auto bool) (statusgo.Outcome, error) {
	if !legacy {
		return f.Deliver(m)
	}
	m.ResendType = statusgo.ResendNone
	if auto {
		m.ResendType = statusgo.ResendDataSync
	}
	o, err := f.Deliver(m)
	if err != nil {
		return o, err
	}
	if auto && !privatePath(o.Via) {
		// Off the private path the flag only made the loop pick the
		// message up.
		m.ResendType = statusgo.ResendRawMessage
		if o, err = f.Deliver(m); err != nil {
			return o, err
		}
	}
	o.Reason = legacyReason(o.Reason, auto)
	return o, nil
}

// privatePath reports whether a send function hands DataSync messages to
// MVDS.
func privatePath(f statusgo.SendFunc) bool {
	return f == statusgo.SendPrivate || f == statusgo.SendGroup || f == statusgo.SendPubsubTopicKey
}

// legacyReason rewrites a reason in the first generation's words: there
// was no ResendMethod, and the flag stood for both ResendTypes.
func legacyReason(r string, auto bool) string {
	flag := autoField + ": true"
	if !auto {
		flag = autoField + ": false"
	}
	return strings.NewReplacer(
		statusgo.ResendDataSync.String(), flag,
		statusgo.ResendRawMessage.String(), flag,
		statusgo.ResendNone.String(), flag,
		statusgo.MethodDynamic.String()+", ", "",
		statusgo.MethodDynamic.String()+": ", "",
	).Replace(r)
}
