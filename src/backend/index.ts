// The backend capability; see the folder's modules.
