// The cnn capability; see the folder's modules.
