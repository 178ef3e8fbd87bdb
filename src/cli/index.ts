// The cli capability; see the folder's modules.
