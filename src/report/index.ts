// The report capability; see the folder's modules.
