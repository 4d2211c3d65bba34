// Command statusgo stands in for status-go in CI, so that a change to the
// core that status-go could not take fails here first.
//
// Its module requires the core from the working tree together with exactly
// the versions status-go pins (commit c72f49132, recorded in testdata) of
// every module the two share, status-go's SQLCipher and its replacements,
// and keeps go-waku at status-go's version in the module graph; its tests
// check that resolving that graph raises none of status-go's versions.
//
// The program then does what status-go would do with the Guard: it opens
// SQLCipher-encrypted application databases with status-go's cipher
// settings — one already holding mvds's tables, made by mvds's own
// migrations, one fresh — adopts them with mvds.FromSQL, and runs two Guards
// over memtransport: a message is delivered; a message to a recipient that
// has gone fails after its policy's attempts; Retry delivers it once the
// recipient is back. It checks that status-go's next start still finds its
// mvds migrations done and that neither file can be read without its key,
// prints what happened, and exits 0 only if everything held.
//
//	go run . [-dir DIR] [-v]
//
// Nothing imports this package, and none of status-go's code is in it.
package main
