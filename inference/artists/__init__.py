"""Artist tools of the sidecar: renders of test phrases (:mod:`.phrases`), speaker similarity
(:mod:`.similarity`), a singer's habits read from a recording (:mod:`.reference`) and the blend
search that makes a new artist from a reference recording (:mod:`.create`)."""
