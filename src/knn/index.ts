// The knn capability; see the folder's modules.
