package static

import (
	"testing"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

func TestTheProtoNumberingIsRead(t *testing.T) {
	proto := []byte(`syntax = "proto3";
message ApplicationMetadataMessage {
  Type type = 4003;
  enum Type {
    reserved 14;
    reserved "SYNC_INSTALLATION_PUBLIC_CHAT";
    UNKNOWN = 0;
    CHAT_MESSAGE = 1; // a comment
    COMMUNITY_INVITATION = 26 [deprecated=true];
    COMMUNITY_ADMIN_MESSAGE = 68;
    COMMUNITY_EDIT_SHARED_ADDRESSES = 69;
  }
}
enum Other { X = 68; }
`)
	tab := parseProtoTable(proto)
	if tab == nil || len(tab.byNum) != 5 || tab.byNum[26] != "COMMUNITY_INVITATION" {
		t.Fatalf("table %+v", tab)
	}
	if got := tab.canonical(69); got != int64(statusgo.CommunityEditSharedAddresses) {
		t.Errorf("69 → %d; want the core's COMMUNITY_EDIT_SHARED_ADDRESSES (%d)", got, statusgo.CommunityEditSharedAddresses)
	}
	if got := tab.canonical(68); got != extraType+68 || statusgo.DefaultFlows().MayBeCritical(statusgo.MessageType(got)) {
		t.Errorf("68 → %d; want a type the core does not know, never critical", got)
	}
}

func FuzzParseProtoTable(f *testing.F) {
	f.Add([]byte("enum Type {\n  UNKNOWN = 0;\n  CHAT_MESSAGE = 1;\n}\n"))
	f.Add([]byte("enum Type{\nA = 99999999999999999999;\n"))
	f.Add([]byte("enum Type {\n  B = 2 [deprecated=true];\n  // C = 3;\n}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab := parseProtoTable(data)
		if tab == nil {
			return
		}
		for n, name := range tab.byNum {
			if tab.byName[name] != n && tab.byNum[tab.byName[name]] != name {
				t.Fatalf("%d=%s does not read back", n, name)
			}
		}
	})
}
