// The augment capability; see the folder's modules.
