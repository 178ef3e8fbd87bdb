// The data capability; see the folder's modules.
