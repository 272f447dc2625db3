package format

// NameTimestamp is the UTC time layout (YYYYMMDDhhmmss) of the suffix of the
// names ark generates: a scheduled backup (<schedule>-<timestamp>), a restore
// named after its backup (<backup>-<timestamp>), a CSI snapshot.
const NameTimestamp = "20060102150405"
