//! Linearizability checking of KV histories (Wing–Gong search with memoization, partitioned per key).
