package static

import (
	"fmt"
	"go/ast"

	"github.com/mvdsguard/mvdsguard/statusgo"
)

// A branch on a chat's kind (chat.ChatType == ChatTypeOneToOne, a switch on
// chat.ChatType, chat.OneToOne(), or a function that returns a ResendType for
// a chat) splits the path into one where the chat is of that kind and one
// where it is not, and each path remembers it. A send on the path then
// happens in a chat of the kinds the path still allows, so a one-to-one
// site only sees what its branch chose, and a contact request (always in a
// one-to-one chat) never takes the branch of another kind.

// noChat is the chat-argument index of a function that is not summarised
// per chat kind; receiverChat that of a method of Chat.
const (
	noChat       = -2
	receiverChat = -1
)

// chatRead returns the chat variable a value reads the ChatType of.
func chatRead(v Value) (string, bool) {
	switch v.Kind {
	case KUnknown:
		if v.Field == statusgo.ChatTypeField && v.Root != "" {
			return v.Root, true
		}
	case KParam:
		if v.Path == "."+statusgo.ChatTypeField && v.Root != "" {
			return v.Root, true
		}
	}
	return "", false
}

// chatKindConst returns the kind a ChatType constant names.
func chatKindConst(v Value) (statusgo.ChatKind, bool) {
	if v.Kind == KConst && v.Class == CChatKind && v.Int != 0 {
		return statusgo.ChatKind(v.Int), true
	}
	return 0, false
}

// excluded reports whether a condition on the path ruled out kind k for
// the chat root.
func (s *state) excluded(root string, k statusgo.ChatKind) bool {
	return s.notChats[root]&(1<<k) != 0
}

func (s *state) exclude(root string, k statusgo.ChatKind) {
	if s.notChats == nil {
		s.notChats = map[string]uint8{}
	}
	s.notChats[root] |= 1 << k
}

// chatSplit splits a path on "x == y" where one side reads the ChatType of
// a chat whose kind the path does not know and the other is a ChatType
// constant. It returns the path where they are equal and the one where they
// are not; either is nil when the path already rules it out.
func (in *interp) chatSplit(x, y Value, st *state, eqText, neText string) (eq, ne *state, ok bool) {
	root, isRead := chatRead(x)
	k, isKind := chatKindConst(y)
	if !isRead || !isKind {
		root, isRead = chatRead(y)
		k, isKind = chatKindConst(x)
	}
	if !isRead || !isKind {
		return nil, nil, false
	}
	if _, known := st.chats[root]; known {
		return nil, nil, false
	}
	id := fmt.Sprintf("k%s%d", root, k)
	if !st.excluded(root, k) {
		eq = st.fork(id+"t", eqText)
		eq.chats[root] = k
	}
	left := 0
	for _, o := range statusgo.DispatchableChatKinds() {
		if o != k && !st.excluded(root, o) {
			left++
		}
	}
	if left > 0 {
		ne = st.fork(id+"f", neText)
		ne.exclude(root, k)
	}
	return eq, ne, true
}

// knownChatKind turns a read of a chat's ChatType into the constant the
// path has fixed, if it has.
func knownChatKind(v Value, st *state, text string) Value {
	if root, ok := chatRead(v); ok {
		if k, ok := st.chats[root]; ok {
			return constant(CChatKind, int64(k), text)
		}
	}
	return v
}

// chatArg returns which argument of fd is a status-go Chat whose kind its
// results depend on: receiverChat for a method of Chat, the index of the
// first *Chat parameter of a function that returns a resend setting, or
// noChat.
func (e *engine) chatArg(fd *fnDecl) int {
	if fd.decl == nil {
		return noChat
	}
	if fd.recvType == statusgo.ChatType && e.pkgPath == statusgo.ProtocolPath {
		return receiverChat
	}
	if !returnsResend(e, fd) {
		return noChat
	}
	for i, t := range fd.ptypes {
		if e.isType(fd, derefType(t), statusgo.ProtocolPath, statusgo.ChatType) {
			return i
		}
	}
	return noChat
}

// returnsResend reports whether fd returns a ResendType or a bool (the
// first generation's ResendAutomatically), the values worth a per-kind
// summary.
func returnsResend(e *engine, fd *fnDecl) bool {
	if fd.ftype.Results == nil {
		return false
	}
	for _, f := range fd.ftype.Results.List {
		if id, ok := f.Type.(*ast.Ident); ok && id.Name == "bool" && e.legacy {
			return true
		}
		if e.isType(fd, f.Type, statusgo.CommonPath, "ResendType") {
			return true
		}
	}
	return false
}

func derefType(x ast.Expr) ast.Expr {
	if star, ok := x.(*ast.StarExpr); ok {
		return star.X
	}
	return x
}

// chatFuncShape reports, from syntax alone, whether a function may be
// summarised per chat kind: it takes a Chat and returns a bool or a
// ResendType (chatArg decides for sure, with types).
func chatFuncShape(d *ast.FuncDecl) bool {
	if d.Body == nil || d.Type.Results == nil || d.Type.Params == nil {
		return false
	}
	chat := false
	for _, f := range d.Type.Params.List {
		if baseTypeName(f.Type) == statusgo.ChatType {
			chat = true
		}
	}
	if !chat {
		return false
	}
	for _, f := range d.Type.Results.List {
		if name := baseTypeName(f.Type); name == "bool" || name == "ResendType" {
			return true
		}
	}
	return false
}
