// Package traffic counts what crossed a recorded session each way: the
// messages and their bytes, the distribution of their sizes in classes
// that double (0, 1, 2-3, 4-7 bytes and so on), and the bytes over time
// in equal slots, for charts of throughput such as wsrecord-inspect
// stats draws.
//
// It reads a recording of either format through package format/recfile,
// in constant memory but for the slots.
package traffic
