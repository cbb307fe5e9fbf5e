"""Artist tools of the sidecar: renders of test phrases (:mod:`.phrases`), speaker similarity
(:mod:`.similarity`), a singer's habits read from a recording (:mod:`.reference`), what a
recording sings (:mod:`.transcribe`: its words, and :mod:`.sung`: those words on its notes as a
Score) and the blend search that makes a new artist from a reference recording (:mod:`.create`)."""
