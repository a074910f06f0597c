//! Client histories: operations with invocation and completion times, and their JSON-lines format.
